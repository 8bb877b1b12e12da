// Package postgres opens the connection pool and applies the schema migrations embedded in the
// binary. Migrations are goose SQL files under migrations/, each applied in its own transaction and
// recorded in goose_db_version; a Postgres advisory lock makes two processes that start at once
// apply them one after the other.
//
// Migration numbers are grouped by owner so that work in parallel does not collide:
// 001xx event store, 002xx accounts, 003xx read models and projections, 004xx commands, relay and
// fulfilment.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the pool size when the URL does not set pool_max_conns. Concurrent appends
// share group statements (infra/eventstore/postgres), so a few connections carry many waiting
// commits, and more connections than the server has cores to run them only queue inside it.
// commerce bench, 64 workers, 2 cores, the same pool for both paths: the event-sourced path
// settled 1,048 / 1,197 orders/s (hot / uniform) with 16 connections, 906 / 1,017 with 24 and
// 860 / 927 with 32. Size it to the database server's cores.
const DefaultMaxConns = 16

// Timeouts and probes of every connection, so that a database that stops answering costs a
// bounded wait, never a hang. A setting in the URL (connect_timeout, statement_timeout,
// tcp_keepalives_*) wins over these.
const (
	// DefaultConnectTimeout bounds opening one connection (connect_timeout).
	DefaultConnectTimeout = 3 * time.Second
	// DefaultStatementTimeout is the server's statement_timeout on the pool's connections: the
	// server stops work whose client is gone. Requests carry their own, shorter deadline (httpapi);
	// this bounds the rest. Connections made from the pool's ConnConfig for advisory locks and
	// LISTEN do not get it: they wait on purpose.
	DefaultStatementTimeout = 30 * time.Second
)

// Keepalive is how both ends of every connection probe it when it is idle: the server
// (tcp_keepalives_*) and this process's socket, which also gives up on data unacknowledged for as
// long (TCP_USER_TIMEOUT, on Linux). A peer that vanished in a silent partition is noticed in
// Idle + Interval x Count, 25 s, not the operating system's default of hours. The pool's
// connections and those made from its ConnConfig (advisory locks, LISTEN) share it.
var Keepalive = net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}

// Connect opens a pool to url and checks that the database answers. Its connections have the
// timeouts above and Keepalive, and trace their statements (queryTracer); pgxpool has no acquire timeout of its own: an acquire waits as long
// as its context, and every request's context has a deadline (httpapi).
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	configure(cfg, url)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// configure gives cfg's connections the defaults above, where url does not set them.
func configure(cfg *pgxpool.Config, url string) {
	cc := cfg.ConnConfig
	if !strings.Contains(url, "connect_timeout") {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	params := map[string]time.Duration{
		"tcp_keepalives_idle":     Keepalive.Idle,
		"tcp_keepalives_interval": Keepalive.Interval,
	}
	for name, d := range params {
		if _, ok := cc.RuntimeParams[name]; !ok {
			cc.RuntimeParams[name] = strconv.Itoa(int(d.Seconds()))
		}
	}
	if _, ok := cc.RuntimeParams["tcp_keepalives_count"]; !ok {
		cc.RuntimeParams["tcp_keepalives_count"] = strconv.Itoa(Keepalive.Count)
	}
	d := &net.Dialer{KeepAliveConfig: Keepalive, Control: userTimeout(Keepalive.Idle + time.Duration(Keepalive.Count)*Keepalive.Interval)}
	cc.DialFunc = d.DialContext
	cc.Tracer = queryTracer(cc)
	if _, ok := cc.RuntimeParams["statement_timeout"]; !ok {
		set := fmt.Sprintf("SET statement_timeout = %d", DefaultStatementTimeout.Milliseconds())
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			if _, err := c.Exec(ctx, set); err != nil {
				return fmt.Errorf("set statement_timeout: %w", err)
			}
			return nil
		}
	}
}

// queryTracer is the pgx tracer of cc's connections (otelpgx): every query, batch, prepare and
// connect made under a recording span gets a client span of its own, a child of that span (the
// request's, the command's), named by its kind and the statement's operation ("query SELECT",
// "prepare INSERT": the statement cache prepares each statement once per connection) and carrying
// the statement text. Work whose context has no recording span, such as the background polls of
// the log tail, the relay, the leader lease and the projection runner, makes no span at all: an
// idle process exports nothing. Query parameters are never recorded (they hold password hashes
// and personal data), and the connection's address, port and database are computed once here,
// not read from a copy of the connection's configuration at every statement. Pool acquires get no
// span: the pool statistics metrics show the waits.
func queryTracer(cc *pgx.ConnConfig) *otelpgx.Tracer {
	return otelpgx.NewTracer(
		otelpgx.WithDisableConnectionDetailsInAttributes(),
		otelpgx.WithTracerAttributes(
			semconv.ServerAddress(cc.Host),
			semconv.ServerPort(int(cc.Port)),
			semconv.DBNamespace(cc.Database)),
		otelpgx.WithDisableAcquireTracer(),
		otelpgx.WithQuerySpanNamePrefix(),
	)
}

// Migrate applies every embedded migration not yet applied to the database behind pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrate(ctx, db, log)
}

func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("open embedded migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("create migration provider: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	if log != nil {
		for _, r := range results {
			log.Info("migration applied", "source", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}
