// Package pgtest gives each test its own fresh, migrated PostgreSQL database on the server that
// DATABASE_URL names (the one `make test` starts). A test that needs Postgres and finds no
// DATABASE_URL fails; it never skips.
package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/postgres"
)

// URL returns DATABASE_URL or fails the test.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
	}
	return url
}

// NewDatabase creates an empty database for the test, drops it when the test ends, and returns its
// URL. Commits in it do not wait for the disk (synchronous_commit off): tests want speed, and a
// crash of the test server loses nothing worth keeping. Benchmarks use NewDurableDatabase.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

// NewDurableDatabase is NewDatabase with the server's durable commit settings, for benchmarks.
func NewDurableDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

func newDatabase(t testing.TB, durable bool) string {
	t.Helper()
	base := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer admin.Close(ctx)
	name := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	if !durable {
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" SET synchronous_commit = off"); err != nil {
			t.Fatalf("configure database %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop database %s: connect: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	return replaceDatabase(base, cfg.Database, name)
}

func replaceDatabase(url, from, to string) string {
	// postgres://user@host:port/db?params
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, q = url[:i], url[i:]
	}
	if from != "" && strings.HasSuffix(url, "/"+from) {
		return strings.TrimSuffix(url, from) + to + q
	}
	return strings.TrimSuffix(url, "/") + "/" + to + q
}

// New creates a fresh database with every migration applied and returns a pool to it; both are
// closed and dropped when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return connect(t, NewDatabase(t))
}

// NewDurable is New on a database with durable commits, for benchmarks.
func NewDurable(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return connect(t, NewDurableDatabase(t))
}

func connect(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := postgres.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return pool
}

// NewURL is New for code that opens its own pool: it returns the migrated database's URL.
func NewURL(t testing.TB) string {
	t.Helper()
	url := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := postgres.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return url
}
