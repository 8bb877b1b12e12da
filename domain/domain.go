// Package domain holds what every aggregate package shares: business errors callers can match with
// errors.Is, the roles of the shop, and the actor a decision is taken for.
//
// The aggregates live in subpackages (catalog, product, order, review). Each is pure: no I/O, no
// clock, no randomness and no id generation. Time, ids and facts looked up elsewhere come in as
// arguments; decisions return events and never mutate state; Evolve applies an event and never
// fails.
package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Kind classifies a business error so that an edge (HTTP, the bus) can answer it without knowing
// every code.
type Kind int

const (
	// Invalid means the input breaks a validation rule; Fields names every failing field.
	Invalid Kind = iota + 1
	// NotFound means the thing does not exist, or exists but belongs to someone else.
	NotFound
	// Conflict means the thing is in a state that does not allow the change.
	Conflict
	// Forbidden means the actor's role may not take the decision.
	Forbidden
)

// String returns the kind's lower-case name.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Forbidden:
		return "forbidden"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a business error: a refusal by the domain, never a technical failure.
type Error struct {
	// Kind is the class of refusal.
	Kind Kind
	// Code is a stable machine-readable reason such as "OUT_OF_STOCK".
	Code string
	// Message is a sentence for people.
	Message string
	// Fields maps each failing field (snake_case, as in the API) to why it fails; set for Invalid.
	Fields map[string]string
}

// Error returns the message, or the code or kind when there is no message.
func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Code != "":
		return e.Code
	}
	return e.Kind.String()
}

// Is reports whether target is an *Error that e matches: a target without a Code matches every
// error of its Kind, a target with a Code matches that Kind and Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	return t.Kind == e.Kind && (t.Code == "" || t.Code == e.Code)
}

// Sentinels that match every error of their kind: errors.Is(err, domain.ErrConflict).
var (
	// ErrInvalid matches every validation error.
	ErrInvalid = &Error{Kind: Invalid}
	// ErrNotFound matches every not-found error.
	ErrNotFound = &Error{Kind: NotFound}
	// ErrConflict matches every conflict.
	ErrConflict = &Error{Kind: Conflict}
	// ErrForbidden matches every refusal for the actor's role.
	ErrForbidden = &Error{Kind: Forbidden}
)

// ErrUnknownEvent is wrapped by every Decode when the event type is not one of the package's.
var ErrUnknownEvent = errors.New("unknown event type")

// Invalidf returns an Invalid error with code and a formatted message.
func Invalidf(code, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf returns a NotFound error with code and a formatted message.
func NotFoundf(code, format string, args ...any) *Error {
	return &Error{Kind: NotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Conflictf returns a Conflict error with code and a formatted message.
func Conflictf(code, format string, args ...any) *Error {
	return &Error{Kind: Conflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Forbiddenf returns a Forbidden error with code and a formatted message.
func Forbiddenf(code, format string, args ...any) *Error {
	return &Error{Kind: Forbidden, Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeValidation is the Code of every error that Fields.Err returns.
const CodeValidation = "VALIDATION"

// Fields collects validation failures, one reason per field, so that a decision reports every
// failing field at once. The zero value is not usable; make one with make(domain.Fields).
type Fields map[string]string

// Text checks that value, trimmed of surrounding space, has min to max characters (runes, not
// bytes). A min of 1 also refuses a blank value.
func (f Fields) Text(field, value string, min, max int) {
	n := utf8.RuneCountInString(strings.TrimSpace(value))
	switch {
	case min > 0 && n == 0:
		f[field] = "must not be blank"
	case n < min || n > max:
		f[field] = fmt.Sprintf("must be %d to %d characters", min, max)
	}
}

// Range checks that min <= v <= max.
func (f Fields) Range(field string, v, min, max int64) {
	if v < min || v > max {
		f[field] = fmt.Sprintf("must be between %d and %d", min, max)
	}
}

// ID checks that id is not the nil UUID.
func (f Fields) ID(field string, id uuid.UUID) {
	if id == uuid.Nil {
		f[field] = "must be a non-nil id"
	}
}

// Err returns nil when no field failed, else an Invalid error with code VALIDATION whose Fields
// names every failing field and whose message lists them in field order.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	fields := make(map[string]string, len(f))
	for i, name := range names {
		parts[i] = name + " " + f[name]
		fields[name] = f[name]
	}
	return &Error{Kind: Invalid, Code: CodeValidation, Message: "invalid " + strings.Join(parts, "; "), Fields: fields}
}

// Role is an account's role, as carried in its token.
type Role string

// The three roles of the shop.
const (
	// RoleUser buys, cancels and reviews.
	RoleUser Role = "USER"
	// RoleSeller sells products and handles the lines of their own products.
	RoleSeller Role = "SELLER"
	// RoleSupervisor manages the catalog and may act as any seller.
	RoleSupervisor Role = "SUPERVISOR"
)

// Actor is the account a decision is taken for.
type Actor struct {
	// ID is the account id.
	ID uuid.UUID
	// Role is the account's role.
	Role Role
}

// IsSupervisor reports whether a is a SUPERVISOR.
func (a Actor) IsSupervisor() bool { return a.Role == RoleSupervisor }

// ActsForSeller reports whether a may act as seller: the seller themself or a SUPERVISOR.
func (a Actor) ActsForSeller(seller uuid.UUID) bool {
	return a.IsSupervisor() || (a.Role == RoleSeller && a.ID == seller)
}

// IsUser reports whether a is the USER account user.
func (a Actor) IsUser(user uuid.UUID) bool { return a.Role == RoleUser && a.ID == user }

// AggregateType returns the aggregate type of a stream id: the part before the first '-', such as
// "product" for "product-<uuid>".
func AggregateType(streamID string) string {
	typ, _, _ := strings.Cut(streamID, "-")
	return typ
}
