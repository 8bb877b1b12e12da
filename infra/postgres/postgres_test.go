package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
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
