package bus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/telemetry/telemetrytest"
)

// TestTraceCrossesTheBus publishes, on each bus, an event whose traceparent names an append span
// and one without a trace context, and consumes both. Wanted: one publish span, a child of the
// append; the handler continuing from it (on Kafka's Watermill subscriber through otelsarama's
// receive span, on the process manager's waves directly); and no span at all for the event
// without a trace context.
func TestTraceCrossesTheBus(t *testing.T) {
	// One provider for every case: the bus's tracers delegate to the first one a process installs.
	exp := telemetrytest.InMemory(t)

	kb := kafkaBus(t)
	inproc := bus.New(bus.Config{})
	defer inproc.Close()

	cases := []struct {
		name    string
		b       *bus.Bus
		consume func(ctx context.Context, b *bus.Bus, h bus.Handler) error
		receive bool // an otelsarama receive span stands between the publish and the handler
	}{
		{"in-process", inproc, func(ctx context.Context, b *bus.Bus, h bus.Handler) error { return b.RunFulfilment(ctx, h) }, false},
		{"Kafka, Watermill subscriber", kb, func(ctx context.Context, b *bus.Bus, h bus.Handler) error {
			return b.Consume(ctx, "trace-test", []string{bus.OrderTopic}, h)
		}, true},
		{"Kafka, waves", kb, func(ctx context.Context, b *bus.Bus, h bus.Handler) error { return b.RunFulfilment(ctx, h) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			appendCtx, appendSpan := otel.Tracer("test").Start(ctx, "append")
			appendSpan.End()
			traced, untraced := record("order-"+uuid.NewString(), 1), record("order-"+uuid.NewString(), 1)
			tracedMsg, untracedMsg := bus.NewMessage(traced), bus.NewMessage(untraced)
			tracedMsg.Metadata.Set(bus.HeaderTraceParent, traceParent(appendCtx))
			delete(untracedMsg.Metadata, bus.HeaderTraceParent)

			var mu sync.Mutex
			handled := map[string]trace.SpanContext{}
			done := make(chan struct{})
			runCtx, stop := context.WithCancel(ctx)
			ran := make(chan error, 1)
			go func() {
				ran <- tc.consume(runCtx, tc.b, bus.HandlerFunc(func(ctx context.Context, rec eventstore.Record) error {
					mu.Lock()
					defer mu.Unlock()
					if rec.Stream == traced.Stream || rec.Stream == untraced.Stream {
						handled[rec.Stream] = trace.SpanContextFromContext(ctx)
						if len(handled) == 2 {
							close(done)
						}
					}
					return nil
				}))
			}()
			// In process, a publish waits for a subscriber of the order topic.
			publish := func() error { return tc.b.Publisher().Publish(bus.OrderTopic, tracedMsg, untracedMsg) }
			for err := publish(); err != nil; err = publish() {
				if ctx.Err() != nil {
					t.Fatalf("Publish: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			select {
			case <-done:
			case <-ctx.Done():
				t.Fatalf("handled %d of the 2 events", len(handled))
			}
			stop()
			if err := <-ran; err != nil {
				t.Fatalf("consume: %v", err)
			}

			var publishes, receives []tracetest.SpanStub
			for _, s := range exp.GetSpans() {
				switch {
				case s.SpanContext.TraceID() != appendSpan.SpanContext().TraceID():
				case s.Name == bus.OrderTopic+" publish":
					publishes = append(publishes, s)
				case s.Name == bus.OrderTopic+" receive":
					receives = append(receives, s)
				case s.Name != "append":
					t.Errorf("span %q in the event's trace, want only publish and receive spans", s.Name)
				}
			}
			if len(publishes) != 1 || publishes[0].Parent.SpanID() != appendSpan.SpanContext().SpanID() || publishes[0].SpanKind != trace.SpanKindProducer {
				t.Fatalf("publish spans %v, want one producer span, a child of the append span %s", describe(publishes), appendSpan.SpanContext().SpanID())
			}
			handlerParent := publishes[0].SpanContext.SpanID()
			switch {
			case tc.receive && (len(receives) != 1 || receives[0].Parent.SpanID() != handlerParent):
				t.Fatalf("receive spans %v, want one, a child of the publish span %s", describe(receives), handlerParent)
			case tc.receive:
				handlerParent = receives[0].SpanContext.SpanID()
			case len(receives) != 0:
				t.Fatalf("receive spans %v, want none", describe(receives))
			}
			mu.Lock()
			defer mu.Unlock()
			if got := handled[traced.Stream]; got.TraceID() != appendSpan.SpanContext().TraceID() || got.SpanID() != handlerParent {
				t.Errorf("handler's span context %s/%s, want %s/%s", got.TraceID(), got.SpanID(), appendSpan.SpanContext().TraceID(), handlerParent)
			}
			if got := handled[untraced.Stream]; got.IsValid() {
				t.Errorf("handler of the event without a trace context has span context %s/%s, want none", got.TraceID(), got.SpanID())
			}
			// The event without a trace context made no span anywhere: every span exported is the
			// append's, a test's, or under one of them.
			for _, s := range exp.GetSpans() {
				if !s.Parent.IsValid() && s.Name != "append" {
					t.Errorf("root span %q (trace %s), want none from the bus", s.Name, s.SpanContext.TraceID())
				}
			}
		})
	}
}

// traceParent returns the W3C traceparent of the span in ctx.
func traceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

func describe(spans []tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s %s (parent %s)", s.Name, s.SpanContext.SpanID(), s.Parent.SpanID()))
	}
	return out
}
