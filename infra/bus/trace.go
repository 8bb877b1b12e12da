package bus

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracer makes the publish spans; a no-op until the process installs the OpenTelemetry SDK.
var tracer = otel.Tracer("github.com/commerce-dev/commerce/infra/bus")

// TracePublish starts a producer span for each of msgs, a child of the span its traceparent header
// names (the one that appended the event), and points the header at the new span, so that the
// consumer's work follows the publish in the trace. The relay calls the returned func once the
// publish is done, with its error.
func TracePublish(topic string, msgs []*message.Message) (end func(error)) {
	spans := make([]trace.Span, 0, len(msgs))
	for _, msg := range msgs {
		carrier := propagation.MapCarrier{HeaderTraceParent: msg.Metadata.Get(HeaderTraceParent)}
		if carrier[HeaderTraceParent] == "" {
			continue
		}
		ctx := propagation.TraceContext{}.Extract(context.Background(), carrier)
		ctx, span := tracer.Start(ctx, "publish "+topic, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("messaging.destination.name", topic),
				attribute.String("messaging.message.id", msg.UUID)))
		if !span.IsRecording() {
			continue
		}
		propagation.TraceContext{}.Inject(ctx, carrier)
		msg.Metadata.Set(HeaderTraceParent, carrier[HeaderTraceParent])
		spans = append(spans, span)
	}
	return func(err error) {
		for _, span := range spans {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
}

// consumeContext returns ctx carrying the remote span context that msg's traceparent header
// names, so that the handler's spans continue the publisher's trace.
func consumeContext(ctx context.Context, msg *message.Message) context.Context {
	tp := msg.Metadata.Get(HeaderTraceParent)
	if tp == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{HeaderTraceParent: tp})
}
