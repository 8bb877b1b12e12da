// Package telemetrytest gives tests an OpenTelemetry SDK that keeps its spans in memory.
package telemetrytest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// InMemory installs, as the process's tracer provider until t ends, one that records every span
// into the exporter it returns, synchronously, so that a test reads a span as soon as it ended. The
// package-level tracers of the code under test (otel.Tracer) delegate to the first provider a
// process installs, as in production: a test binary installs one, however many tests want spans.
func InMemory(t testing.TB) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	})
	return exp
}
