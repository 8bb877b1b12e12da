// Package eventstore is the port every event store adapter implements: append to a stream with an
// expected version, read a stream, read and subscribe to the global log.
//
// Versions are 1-based: the first event of a stream has version 1, and a stream's version is the
// number of events in it, so "no stream" is version 0. Positions are the global log's order: a
// reader that has seen position P has seen every event ordered before it. Positions are opaque
// numbers that only grow; they are not dense.
//
// The package imports no driver; adapters live in subpackages and the contract suite every adapter
// passes is in eventstoretest.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Position is a place in the global log. The zero Position is before the first event.
type Position uint64

// ExpectedVersion is the condition an append puts on the stream's current version.
type ExpectedVersion struct {
	kind    expectKind
	version int64
	last    uuid.UUID // with expectExact: the id the event at version must have, when not Nil
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectExact
)

var (
	// Any appends whatever the stream's version is.
	Any = ExpectedVersion{kind: expectAny}
	// NoStream appends only when the stream has no events.
	NoStream = ExpectedVersion{kind: expectNoStream}
	// StreamExists appends only when the stream has at least one event.
	StreamExists = ExpectedVersion{kind: expectStreamExists}
)

// Exact appends only when the stream's version is v. Exact(0) is the same as NoStream.
func Exact(v int64) ExpectedVersion {
	if v == 0 {
		return NoStream
	}
	return ExpectedVersion{kind: expectExact, version: v}
}

// ExactAfter appends only when the stream's version is v and its event at version v has the id
// last: a writer that decided on a state it did not read just now (a cached one) learns so from the
// append itself, even when the store took events back and the stream grew to v again with other
// events. ExactAfter(0, ...) is the same as NoStream.
func ExactAfter(v int64, last uuid.UUID) ExpectedVersion {
	e := Exact(v)
	if e.kind == expectExact {
		e.last = last
	}
	return e
}

// LastID returns the id ExactAfter requires of the event at the expected version, and whether it
// requires one.
func (e ExpectedVersion) LastID() (uuid.UUID, bool) { return e.last, e.last != uuid.Nil }

// IsNoStream reports whether e requires the stream to be empty.
func (e ExpectedVersion) IsNoStream() bool { return e.kind == expectNoStream }

// IsStreamExists reports whether e requires the stream to have at least one event.
func (e ExpectedVersion) IsStreamExists() bool { return e.kind == expectStreamExists }

// Version returns the exact version e requires and true, or 0 and false when e is not exact.
func (e ExpectedVersion) Version() (int64, bool) {
	if e.kind == expectExact {
		return e.version, true
	}
	return 0, false
}

// Allows reports whether a stream at version current satisfies e's version (ExactAfter's event id
// is for the store to check).
func (e ExpectedVersion) Allows(current int64) bool {
	switch e.kind {
	case expectNoStream:
		return current == 0
	case expectStreamExists:
		return current > 0
	case expectExact:
		return current == e.version
	default:
		return true
	}
}

// String names the condition for logs and errors.
func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectStreamExists:
		return "stream exists"
	case expectExact:
		if e.last != uuid.Nil {
			return fmt.Sprintf("version %d ending with event %s", e.version, e.last)
		}
		return fmt.Sprintf("version %d", e.version)
	default:
		return "any"
	}
}

var (
	// ErrWrongVersion is matched (with errors.Is) by every append refused because the stream's
	// version did not satisfy the expected version. The error is a *WrongVersionError.
	ErrWrongVersion = errors.New("wrong expected version")
	// ErrStreamNotFound is returned by reads of a stream that has no events.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrConditionFailed is matched by every AppendIf refused because one of its conditions on
	// other streams did not hold: the decision it carries rests on facts that changed, so the
	// caller reads them again and decides again. It is never ErrWrongVersion, which is about the
	// appended stream itself.
	ErrConditionFailed = errors.New("condition on another stream failed")
	// ErrInvalid is matched by errors for input an adapter refuses before writing anything: an
	// empty stream id, an empty type, a nil id, data or metadata that is not JSON.
	ErrInvalid = errors.New("invalid event store input")
)

// WrongVersionError is the error of an append whose expected version did not hold. It carries the
// stream's actual version so that callers can reload and retry.
type WrongVersionError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   int64
}

// Error says which stream, what was expected and what was found.
func (e *WrongVersionError) Error() string {
	return fmt.Sprintf("append to %s: expected %s, stream is at version %d: %v", e.Stream, e.Expected, e.Actual, ErrWrongVersion)
}

// Is makes errors.Is(err, ErrWrongVersion) true.
func (e *WrongVersionError) Is(target error) bool { return target == ErrWrongVersion }

// EventData is an event to append. ID identifies the event across retries: appending the same ids
// again at the same expected version is a success that writes nothing.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
}

// Metadata is what this system writes into EventData.Metadata: where a change came from.
type Metadata struct {
	CorrelationID uuid.UUID `json:"correlation_id,omitzero"`
	CausationID   uuid.UUID `json:"causation_id,omitzero"`
	ActorID       uuid.UUID `json:"actor_id,omitzero"`
	ActorRole     string    `json:"actor_role,omitempty"`
	TraceParent   string    `json:"traceparent,omitempty"`
}

// Marshal encodes m for EventData.Metadata.
func (m Metadata) Marshal() json.RawMessage {
	b, _ := json.Marshal(m) // a struct of uuids and strings always encodes
	return b
}

// ParseMetadata decodes Record.Metadata; empty or foreign metadata gives the zero Metadata.
func ParseMetadata(raw json.RawMessage) Metadata {
	var m Metadata
	_ = json.Unmarshal(raw, &m)
	return m
}

// Record is a stored event as readers see it.
type Record struct {
	ID         uuid.UUID
	Type       string
	Data       json.RawMessage
	Metadata   json.RawMessage
	Stream     string
	Version    int64
	Position   Position
	RecordedAt time.Time
}

// AppendResult is what an append wrote: the stream's new version and the global position of the
// last event written (or, for an idempotent re-append, of the last event already there).
type AppendResult struct {
	Version  int64
	Position Position
	// Existing is true when the append was an idempotent re-append: every event was already stored
	// there, so nothing was written and Version and Position are where those events ended. Events
	// decided again with the same ids may differ from the stored ones (a later clock, a later
	// price): the stored ones are the facts, so a writer that built a state from its own events
	// reads the stream instead.
	Existing bool
}

// Store is an event store.
type Store interface {
	// Append writes events to stream atomically if the stream's version satisfies expected.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)
	// ReadStream returns up to limit events of stream with version >= from, oldest first.
	// A stream with no events is ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, from int64, limit int) ([]Record, error)
	// ReadStreamBackward returns up to limit events of stream, newest first, starting at the end.
	// A stream with no events is ErrStreamNotFound.
	ReadStreamBackward(ctx context.Context, stream string, limit int) ([]Record, error)
	// ReadAll returns up to limit events of the global log after position from, in log order.
	ReadAll(ctx context.Context, from Position, limit int) ([]Record, error)
	// SubscribeAll calls handle with consecutive batches of the global log after position from:
	// first what is stored, then live events as they are committed. It returns ctx.Err() when ctx
	// ends, or handle's error wrapped, or the store's error once it has stayed unreachable for a
	// while (adapters retry until then).
	SubscribeAll(ctx context.Context, from Position, handle func(context.Context, []Record) error) error
	// Head returns the position of the last event readers can see, 0 for an empty log.
	Head(ctx context.Context) (Position, error)
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
}

// Subscriber follows the global log. Every Store is one; a process gives its followers (relay,
// projectors, outcome waiter, live-update streams) one shared tail of the log that is one too
// (package logtail), so that the log is read live once per process rather than once per follower.
type Subscriber interface {
	// SubscribeAll is Store.SubscribeAll.
	SubscribeAll(ctx context.Context, from Position, handle func(context.Context, []Record) error) error
}

// DelayedAppender is implemented by stores that can acknowledge an append before it is on disk,
// for writes whose loss in a crash of the store is repaired by redoing them: the fulfilment's
// stock reservations, which an order's durable outcome always follows.
type DelayedAppender interface {
	// AppendDelayed is Append, except that it may return before the events are durable. They
	// are visible to readers at once and become durable in the order they were written: at the
	// latest once an Append that started after this call returned has returned, or once a
	// WaitDurable that started after it has returned. A crash of the store can take back delayed
	// appends that were not yet durable, and then takes back everything written after them too.
	AppendDelayed(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)
	// WaitDurable returns once every append that returned before the call is durable.
	WaitDurable(ctx context.Context) error
}

// StreamAt is a condition an append puts on another stream than its own: that the stream still
// ends where a decision saw it, at Version with the event Last there (Version 0 and a Nil Last for
// no stream). Any event appended after it fails the condition, even one the decision does not
// depend on: checking only the stream's end costs the store two index probes, where telling
// events apart would cost a look at every event appended since.
type StreamAt struct {
	Stream  string
	Version int64
	Last    uuid.UUID
}

// ConditionalAppender is implemented by stores that can check other streams in the transaction
// of an append: a decision that took facts from a cache (an order's product prices) is appended
// only if those facts still hold, without reading them first.
type ConditionalAppender interface {
	// AppendIf is Append, done only if every condition in conds holds when the events are
	// written, atomically with them. A condition that fails refuses the append with an error
	// matching ErrConditionFailed, whatever the stream's own version; otherwise it is Append.
	AppendIf(ctx context.Context, stream string, expected ExpectedVersion, conds []StreamAt, events ...EventData) (AppendResult, error)
	// AppendDelayedIf is AppendIf returning without waiting for the disk, as
	// DelayedAppender.AppendDelayed: the process manager reserves stock under a condition on the
	// order's stream, and a reservation need not be durable before the order's outcome is.
	AppendDelayedIf(ctx context.Context, stream string, expected ExpectedVersion, conds []StreamAt, events ...EventData) (AppendResult, error)
}

// StreamAppend is one stream's events in a MultiAppender's append.
type StreamAppend struct {
	Stream   string
	Expected ExpectedVersion
	Events   []EventData
}

// MultiAppender is implemented by stores that append to several streams in one transaction: an
// order, the stock it reserves on its products and its outcome are then one durable commit
// instead of one per stream.
type MultiAppender interface {
	// AppendAll writes the events of every append, each to its stream if the stream's version
	// satisfies the append's expected version, or writes none of them. A refusal because of a
	// version is an error matching ErrWrongVersion, a *WrongVersionError naming a stream whose
	// version did not hold. Unlike Append, appending events already stored is not a success: such
	// an append is refused like any other whose streams moved, and a caller that re-runs a
	// command looks for its earlier result itself.
	//
	// The events go into the log in the order of appends. A stream may appear again: the later
	// append continues the stream where the earlier one leaves it and expects Any (the earlier
	// one's expected version is the check), so that an order placed, its stock reserved and its
	// outcome are in the log in that order. The results are one per append, in their order.
	AppendAll(ctx context.Context, appends ...StreamAppend) ([]AppendResult, error)
}

// ValidateAll checks a MultiAppender's input as Validate checks an append's, and that a stream
// that appears again expects Any.
func ValidateAll(appends []StreamAppend) error {
	if len(appends) == 0 {
		return fmt.Errorf("append to several streams: no appends: %w", ErrInvalid)
	}
	seen := make(map[string]bool, len(appends))
	for _, a := range appends {
		if seen[a.Stream] && a.Expected != Any {
			return fmt.Errorf("append to several streams: %s appears again expecting %s, not any: %w", a.Stream, a.Expected, ErrInvalid)
		}
		seen[a.Stream] = true
		if err := Validate(a.Stream, a.Events); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the input every adapter refuses before writing anything.
func Validate(stream string, events []EventData) error {
	if stream == "" {
		return fmt.Errorf("append: empty stream id: %w", ErrInvalid)
	}
	if len(events) == 0 {
		return fmt.Errorf("append to %s: no events: %w", stream, ErrInvalid)
	}
	for i, e := range events {
		if e.ID == uuid.Nil {
			return fmt.Errorf("append to %s: event %d has a nil id: %w", stream, i, ErrInvalid)
		}
		if e.Type == "" {
			return fmt.Errorf("append to %s: event %d has an empty type: %w", stream, i, ErrInvalid)
		}
		if !json.Valid(e.Data) {
			return fmt.Errorf("append to %s: event %d data is not JSON: %w", stream, i, ErrInvalid)
		}
		if len(e.Metadata) > 0 && !json.Valid(e.Metadata) {
			return fmt.Errorf("append to %s: event %d metadata is not JSON: %w", stream, i, ErrInvalid)
		}
	}
	return nil
}
