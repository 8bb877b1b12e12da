package faultproxy_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/postgres/faultproxy"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestFaults runs each fault against a real PostgreSQL connection through the proxy.
func TestFaults(t *testing.T) {
	url := pgtest.URL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	goroutines := runtime.NumGoroutine()
	p, err := faultproxy.Start(cfg.Host + ":" + itoa(int(cfg.Port)))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	connect := func(timeout time.Duration) (*pgx.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return pgx.Connect(ctx, p.URL(url))
	}
	query := func(c *pgx.Conn, timeout time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		var one int
		err := c.QueryRow(ctx, "SELECT 1").Scan(&one)
		return time.Since(start), err
	}
	c, err := connect(5 * time.Second)
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	if _, err := query(c, 5*time.Second); err != nil {
		t.Fatalf("query through the proxy: %v", err)
	}

	p.SetLatency(100 * time.Millisecond)
	if took, err := query(c, 5*time.Second); err != nil || took < 200*time.Millisecond {
		t.Fatalf("query with 100 ms latency each way = %s, %v; want at least 200 ms", took, err)
	}
	p.SetLatency(0)

	p.Partition(true)
	if took, err := query(c, 300*time.Millisecond); err == nil {
		t.Fatalf("query during a partition answered after %s, want its deadline to pass", took)
	}
	if _, err := connect(300 * time.Millisecond); err == nil {
		t.Fatal("connect during a partition succeeded")
	}
	p.Partition(false)
	c, err = connect(5 * time.Second)
	if err != nil {
		t.Fatalf("connect after the partition: %v", err)
	}

	p.Reset()
	if _, err := query(c, 5*time.Second); err == nil {
		t.Fatal("query on a reset connection succeeded")
	}

	if err := p.Refuse(true); err != nil {
		t.Fatalf("Refuse: %v", err)
	}
	start := time.Now()
	if _, err := connect(5 * time.Second); err == nil || time.Since(start) > time.Second {
		t.Fatalf("connect while refused = %v after %s, want a quick refusal", err, time.Since(start))
	}
	if err := p.Refuse(false); err != nil {
		t.Fatalf("Refuse(false): %v", err)
	}
	c, err = connect(5 * time.Second)
	if err != nil {
		t.Fatalf("connect after refusals: %v", err)
	}
	if _, err := query(c, 5*time.Second); err != nil {
		t.Fatalf("query after every fault: %v", err)
	}
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Fatalf("%d goroutines after Close, %d before Start", n, goroutines)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
