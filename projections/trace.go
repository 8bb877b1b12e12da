package projections

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// traceApplied records, for every event of recs that carries a trace context, a span of its
// projection by projector name from start to now, a child of the span that appended the event: the
// read model's step in the trace of the request that caused it. Without a tracer it does nothing
// and reads no metadata, so that a runner with tracing off pays nothing per event.
func (r *Runner) traceApplied(name string, recs []eventstore.Record, start time.Time) {
	if r.opts.Tracer == nil {
		return
	}
	for _, rec := range recs {
		tp := eventstore.ParseMetadata(rec.Metadata).TraceParent
		if tp == "" {
			continue
		}
		ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
		_, span := r.opts.Tracer.Start(ctx, "project "+name+" "+rec.Type, trace.WithTimestamp(start),
			trace.WithAttributes(attribute.String("commerce.event_id", rec.ID.String()),
				attribute.Int64("commerce.position", int64(rec.Position))))
		span.End()
	}
}

// eventLogAttrs names the event a failure is about in a log line, with its correlation id, so that
// the failure can be found beside the request that caused the event.
func eventLogAttrs(rec eventstore.Record) []any {
	md := eventstore.ParseMetadata(rec.Metadata)
	return []any{"event_id", rec.ID, "event_type", rec.Type, "position", rec.Position, "correlation_id", md.CorrelationID}
}
