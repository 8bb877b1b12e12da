// Package readmodels is the query side: typed finders over the read-model tables that the
// projectors in package projections build in the schema "readmodel". It only reads.
//
// Finders return DTO structs (JSON in the API's snake_case) and, for lists, the total number of
// matching rows for pagination. A row that does not exist, or that the caller may not see, is a
// *domain.Error of kind NotFound, which the HTTP layer answers with 404; a bad filter value is a
// *domain.Error of kind Invalid naming the field. Times are UTC.
package readmodels

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DB is what the finders query: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Reader runs the typed queries over the read models.
type Reader struct {
	db DB
}

// New returns a Reader that queries db.
func New(db DB) *Reader { return &Reader{db: db} }

// Page sizes of lists, as the API contract (README) fixes them.
const (
	DefaultPageSize = 10
	MaxPageSize     = 100
)

// Page selects one page of a list: Number is 0-based, Size is 1 to MaxPageSize. A Size of 0 means
// DefaultPageSize; out-of-range values are brought into range (the HTTP layer refuses them first).
type Page struct {
	Number int
	Size   int
}

// normalized returns p with its defaults and limits applied.
func (p Page) normalized() Page {
	if p.Number < 0 {
		p.Number = 0
	}
	switch {
	case p.Size <= 0:
		p.Size = DefaultPageSize
	case p.Size > MaxPageSize:
		p.Size = MaxPageSize
	}
	return p
}

// offset is the number of rows before the page.
func (p Page) offset() int { return p.Number * p.Size }

// List is one page of a list and the total number of rows that match its filter.
type List[T any] struct {
	// Items are the page's rows, never nil.
	Items []T
	// Page is the page that was read, with defaults applied.
	Page Page
	// Total counts every matching row, on every page.
	Total int64
}

// TotalPages is the number of pages of Page.Size that hold Total rows.
func (l List[T]) TotalPages() int {
	if l.Page.Size <= 0 {
		return 0
	}
	return int((l.Total + int64(l.Page.Size) - 1) / int64(l.Page.Size))
}

// query builds a statement with numbered arguments.
type query struct {
	where []string
	args  []any
}

// arg adds v as an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// and adds a condition; cond may hold placeholders returned by arg.
func (q *query) and(cond string) { q.where = append(q.where, cond) }

// whereClause returns " WHERE a AND b", or "" without conditions.
func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// list counts the rows that q selects from from (a FROM clause, with joins) and reads one page
// of them: cols are the selected columns, order the ORDER BY clause; scan reads one row.
func list[T any](ctx context.Context, db DB, what string, q *query, from, cols, order string, page Page, scan func(pgx.Row) (T, error)) (List[T], error) {
	return readPage(ctx, db, what, "SELECT count(*) FROM "+from+q.whereClause(), q.args, q, from, cols, order, page, scan)
}

// readPage reads one page of the rows q selects and their total, which countSQL with countArgs
// returns. Both statements go to the server together, on one connection in one round trip: under
// load a list waits once for a pooled connection and for the server, not twice.
func readPage[T any](ctx context.Context, db DB, what, countSQL string, countArgs []any, q *query, from, cols, order string, page Page, scan func(pgx.Row) (T, error)) (List[T], error) {
	page = page.normalized()
	out := List[T]{Items: []T{}, Page: page}
	// LIMIT and OFFSET are written into the statement, not passed as arguments: a plan made for an
	// unknown limit expects to read a tenth of the rows and prefers sorting them to walking an index.
	pageSQL := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s LIMIT %d OFFSET %d", cols, from, q.whereClause(), order, page.Size, page.offset())
	b := &pgx.Batch{}
	b.Queue(countSQL, countArgs...)
	b.Queue(pageSQL, q.args...)
	br := db.SendBatch(ctx, b)
	defer br.Close()
	if err := br.QueryRow().Scan(&out.Total); err != nil {
		return List[T]{}, fmt.Errorf("count %s: %w", what, err)
	}
	rows, err := br.Query()
	if err != nil {
		return out, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return out, fmt.Errorf("list %s: %w", what, err)
		}
		out.Items = append(out.Items, v)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("list %s: %w", what, err)
	}
	rows.Close()
	if err := br.Close(); err != nil {
		return out, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// escapeLike escapes the LIKE wildcards in s so that it matches literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
