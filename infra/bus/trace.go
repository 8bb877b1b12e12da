package bus

import (
	"context"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/dnwe/otelsarama"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// The trace context of an event travels in its message's traceparent header (HeaderTraceParent),
// set from the event's metadata by NewMessage. Publishing makes a producer span, a child of the
// span that header names, and points the header at it; a consumer continues from the header
// (consumeContext). On Kafka the spans and the header are otelsarama's, through watermill-kafka's
// SaramaTracer: "<topic> publish" around the produce and, on the Watermill subscriber,
// "<topic> receive" when a record is handed over. The in-process bus makes the same publish span
// itself (tracePublish). Neither makes a span for a message without a trace context: such a
// span would be the root of a trace of its own.

// saramaTracer traces the Kafka publisher and consumers: otelsarama, with spans only under a
// parent.
var saramaTracer kafka.SaramaTracer = otelSaramaTracer{
	otelsarama.WithTracerProvider(childSpansOnly{tp: otel.GetTracerProvider()}),
	otelsarama.WithPropagators(propagation.TraceContext{}),
}

// otelSaramaTracer is watermill-kafka's OTELSaramaTracer with options, which that one does not
// take.
type otelSaramaTracer []otelsarama.Option

// WrapConsumer traces the records of c's partition consumers.
func (t otelSaramaTracer) WrapConsumer(c sarama.Consumer) sarama.Consumer {
	return otelsarama.WrapConsumer(c, t...)
}

// WrapPartitionConsumer traces the records pc hands over.
func (t otelSaramaTracer) WrapPartitionConsumer(pc sarama.PartitionConsumer) sarama.PartitionConsumer {
	return otelsarama.WrapPartitionConsumer(pc, t...)
}

// WrapConsumerGroupHandler traces the records of h's claims.
func (t otelSaramaTracer) WrapConsumerGroupHandler(h sarama.ConsumerGroupHandler) sarama.ConsumerGroupHandler {
	return otelsarama.WrapConsumerGroupHandler(h, t...)
}

// WrapSyncProducer traces the records p sends.
func (t otelSaramaTracer) WrapSyncProducer(cfg *sarama.Config, p sarama.SyncProducer) sarama.SyncProducer {
	return otelsarama.WrapSyncProducer(cfg, p, t...)
}

// childSpansOnly is a tracer provider whose tracers start a span only under a valid parent span
// context, and otherwise return the context as it is, with no span: otelsarama starts one for
// every record, and a stock request or a reply carries no trace context.
type childSpansOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

// Tracer returns p's tracer name, which starts only child spans.
func (p childSpansOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{tracer: p.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	tracer trace.Tracer
}

// Start starts a span under ctx's span context, or none when ctx has no valid one.
func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.tracer.Start(ctx, name, opts...)
}

// tracer makes the in-process bus's publish spans.
var tracer = childSpansOnly{tp: otel.GetTracerProvider()}.Tracer("github.com/commerce-dev/commerce/infra/bus")

// tracePublish starts the in-process publish span of msg to topic, a child of the span its
// traceparent header names, and points out's header (msg's copy that is delivered) at it. The
// caller ends the returned span with the publish's error.
func tracePublish(topic string, msg, out *message.Message) func(error) {
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(msg.Metadata))
	ctx, span := tracer.Start(ctx, topic+" publish", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.destination.name", topic),
			attribute.String("messaging.message.id", msg.UUID)))
	if !span.IsRecording() {
		return func(error) {}
	}
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(out.Metadata))
	return func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// consumeContext returns ctx carrying the remote span context that msg's traceparent header
// names, so that the handler's spans continue the publisher's trace.
func consumeContext(ctx context.Context, msg *message.Message) context.Context {
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(msg.Metadata))
}
