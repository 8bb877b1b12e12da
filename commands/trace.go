package commands

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// tracer makes the spans of commands, appends and the process manager. It is the global
// OpenTelemetry tracer: a no-op until the process installs an SDK, so commands pay next to nothing
// while tracing is off.
var tracer = otel.Tracer("github.com/commerce-dev/commerce/commands")

// begin starts a command: its span, a child of the request's, and its clock. The handler defers
// the returned func with its named error result; it ends the span and reports the command and its
// duration to the Observer.
func (b base) begin(ctx context.Context, name string) (context.Context, func(*error)) {
	ctx, span := tracer.Start(ctx, "command "+name)
	start := time.Now()
	return ctx, func(err *error) {
		endSpan(span, *err)
		b.obs.Command(name, *err, time.Since(start))
	}
}

// startAppend starts the span of a load-decide-append on stream; the events appended under it
// carry its trace context (see Meta.traced).
func startAppend(ctx context.Context, op, stream string) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, op+" "+domain.AggregateType(stream))
	if span.IsRecording() { // attributes cost allocations that tracing off need not pay
		span.SetAttributes(attribute.String("commerce.stream", stream))
	}
	return ctx, span
}

// endSpan ends span, marking it failed for a technical error. A business error (*domain.Error) is
// an answer, not a failure: it is recorded as an event only.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		var de *domain.Error
		if !errors.As(err, &de) {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

// traced returns m with TraceParent set to the span of ctx, when ctx has one, so that the events a
// command appends continue the trace of whatever caused it.
func (m Meta) traced(ctx context.Context) Meta {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, carrier)
		m.TraceParent = carrier.Get("traceparent")
	}
	return m
}

// startConsumer starts the span of handling rec from the bus: a child of the span ctx carries (the
// one the message's headers named), else of the trace context stored with the event.
func startConsumer(ctx context.Context, name string, rec eventstore.Record) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if tp := MetaOf(rec).TraceParent; tp != "" {
			ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
		}
	}
	ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("commerce.event_id", rec.ID.String()), attribute.String("commerce.stream", rec.Stream))
	}
	return ctx, span
}
