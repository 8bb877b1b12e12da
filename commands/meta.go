package commands

import (
	"context"
	"strconv"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Meta is where a command comes from. It is written into the metadata of every event the command
// appends, never into payloads.
type Meta struct {
	// CorrelationID ties together everything one request caused, across aggregates and the bus.
	// A zero CorrelationID is replaced by a new id per Update.
	CorrelationID uuid.UUID
	// CausationID is the id of the request or event that caused this command. Zero means the
	// correlation id.
	CausationID uuid.UUID
	// Actor is the account acting and its role.
	Actor domain.Actor
	// TraceParent is the W3C trace context of the request, if any.
	TraceParent string
	// CommandID, when set, makes event ids deterministic: the i-th event a command appends to a
	// stream gets uuid.NewSHA1(CommandID, stream+"/"+i), and an Update that finds those events
	// already in the stream returns them instead of deciding again. Set it to a value derived from
	// an Idempotency-Key (see IdempotentCommandID) so that a retried request never appends twice.
	CommandID uuid.UUID
}

type metaKey struct{}

// WithMeta returns a context carrying m, for handlers that take their Meta from the context.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the Meta that WithMeta put into ctx, and whether there was one.
func MetaFrom(ctx context.Context) (Meta, bool) {
	m, ok := ctx.Value(metaKey{}).(Meta)
	return m, ok
}

// Caused returns the Meta of a command caused by event id: same correlation and trace, the given
// actor, causation id = the event's id. The process manager uses it for the commands an event
// triggers.
func (m Meta) Caused(eventID uuid.UUID, actor domain.Actor) Meta {
	return Meta{CorrelationID: m.CorrelationID, CausationID: eventID, Actor: actor, TraceParent: m.TraceParent}
}

// MetaOf reads the Meta back from a stored event's metadata (CommandID is not stored).
func MetaOf(rec eventstore.Record) Meta {
	md := eventstore.ParseMetadata(rec.Metadata)
	return Meta{
		CorrelationID: md.CorrelationID,
		CausationID:   md.CausationID,
		Actor:         domain.Actor{ID: md.ActorID, Role: domain.Role(md.ActorRole)},
		TraceParent:   md.TraceParent,
	}
}

// complete fills a zero correlation id with a new one and a zero causation id with the
// correlation id.
func (m Meta) complete() Meta {
	if m.CorrelationID == uuid.Nil {
		m.CorrelationID = uuid.New()
	}
	if m.CausationID == uuid.Nil {
		m.CausationID = m.CorrelationID
	}
	return m
}

func (m Meta) metadata() eventstore.Metadata {
	return eventstore.Metadata{
		CorrelationID: m.CorrelationID,
		CausationID:   m.CausationID,
		ActorID:       m.Actor.ID,
		ActorRole:     string(m.Actor.Role),
		TraceParent:   m.TraceParent,
	}
}

// eventID returns the id of the i-th event a command appends to stream: deterministic when the
// command has a CommandID, else a new time-ordered one (see newV7).
func (m Meta) eventID(stream string, i int) uuid.UUID {
	if m.CommandID == uuid.Nil {
		return newV7()
	}
	return commandEventID(m.CommandID, stream, i)
}

// newV7 returns a new version 7 UUID: its leading bits are the time, so ids made close together
// sort close together, and the event store's index of event ids (and, for aggregate ids, of
// stream ids) grows at its right edge instead of having every append touch a random page of it,
// with a full-page image in the write-ahead log after each checkpoint. Random ids cost the
// appends measurably more WAL and CPU.
func newV7() uuid.UUID {
	return uuid.Must(uuid.NewV7())
}

func commandEventID(command uuid.UUID, stream string, i int) uuid.UUID {
	return uuid.NewSHA1(command, []byte(stream+"/"+strconv.Itoa(i)))
}
