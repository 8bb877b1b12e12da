package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/telemetry/telemetrytest"
)

// TestConnectBoundsEveryConnection: the pool's connections have the statement timeout and the
// keepalives; a connection made from its ConnConfig (an advisory lock's) has the keepalives and no
// statement timeout; a setting in the URL wins.
func TestConnectBoundsEveryConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := pgtest.NewDatabase(t)
	show := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}, name string) string {
		t.Helper()
		var v string
		if err := q.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatalf("current_setting(%s): %v", name, err)
		}
		return v
	}
	pool, err := postgres.Connect(ctx, url)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer pool.Close()
	want := map[string]string{"statement_timeout": "30s", "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
	for name, v := range want {
		if got := show(pool, name); got != v {
			t.Errorf("pool connection: %s = %s, want %s", name, got, v)
		}
	}
	if got := pool.Config().ConnConfig.ConnectTimeout; got != postgres.DefaultConnectTimeout {
		t.Errorf("ConnectTimeout = %s, want %s", got, postgres.DefaultConnectTimeout)
	}
	lock, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig)
	if err != nil {
		t.Fatalf("connect from the pool's ConnConfig: %v", err)
	}
	defer lock.Close(ctx)
	want["statement_timeout"] = "0"
	for name, v := range want {
		if got := show(lock, name); got != v {
			t.Errorf("connection from the pool's ConnConfig: %s = %s, want %s", name, got, v)
		}
	}

	own, err := postgres.Connect(ctx, url+"&statement_timeout=1500&connect_timeout=7")
	if err != nil {
		t.Fatalf("Connect with settings in the URL: %v", err)
	}
	defer own.Close()
	if got := show(own, "statement_timeout"); got != "1500ms" {
		t.Errorf("statement_timeout from the URL = %s, want 1500ms", got)
	}
	if got := own.Config().ConnConfig.ConnectTimeout; got != 7*time.Second {
		t.Errorf("connect_timeout from the URL = %s, want 7s", got)
	}
}

// TestConnectTracesStatementsUnderASpan: a statement run under a recording span gets a client span
// of its own, a child of that span, with the statement and the server but not its parameters; a
// statement run without a span (a background poll) makes no span.
func TestConnectTracesStatementsUnderASpan(t *testing.T) {
	exp := telemetrytest.InMemory(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := postgres.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer pool.Close()

	const secret = "hunter2-parameter"
	if _, err := pool.Exec(ctx, "SELECT length($1::text)", secret); err != nil {
		t.Fatalf("SELECT without a span: %v", err)
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Fatalf("statement without a span: exported %d spans (first %q), want none", len(spans), spans[0].Name)
	}

	cmdCtx, cmd := otel.Tracer("test").Start(ctx, "command")
	var n int
	if err := pool.QueryRow(cmdCtx, "SELECT length($1::text)", secret).Scan(&n); err != nil {
		t.Fatalf("SELECT under a span: %v", err)
	}
	cmd.End()

	var query *tracetest.SpanStub
	spans := exp.GetSpans()
	for i, s := range spans {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.Value.String(), secret) {
				t.Errorf("span %q attribute %s = %q: holds the query parameter", s.Name, kv.Key, kv.Value.String())
			}
		}
		if s.Name == "command" {
			continue
		}
		if s.Parent.SpanID() != cmd.SpanContext().SpanID() {
			t.Errorf("span %q has parent %s, want the command span %s", s.Name, s.Parent.SpanID(), cmd.SpanContext().SpanID())
		}
		if s.Name == "query SELECT" {
			query = &spans[i]
		}
	}
	if query == nil {
		t.Fatalf("spans under a span: %v, want a query SELECT span", spanNames(spans))
	}
	attrs := map[string]string{}
	for _, kv := range query.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["db.query.text"] != "SELECT length($1::text)" || attrs["server.address"] == "" || attrs["db.namespace"] == "" {
		t.Errorf("query SELECT span attributes = %v, want db.query.text, server.address and db.namespace", attrs)
	}
	if query.SpanKind != trace.SpanKindClient {
		t.Errorf("query SELECT span kind = %s, want client", query.SpanKind)
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
