package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// settingNames are the server settings the report shows: what a commit costs and how much fits
// in memory.
var settingNames = []string{"fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers", "max_connections"}

// Database is a fresh database on the server of an admin URL, made for one bench run.
type Database struct {
	// Name is the database's name, bench_<random hex>.
	Name string
	// URL connects to it.
	URL   string
	admin string
}

// CreateDatabase creates an empty database named bench_<random> on the server that adminURL
// connects to. It keeps the server's commit settings: the bench measures durable commits.
func CreateDatabase(ctx context.Context, adminURL string) (*Database, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to create %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	return &Database{Name: name, URL: replaceDatabase(adminURL, cfg.Database, name), admin: adminURL}, nil
}

// Drop drops the database, closing whatever connections are still open to it.
func (d *Database) Drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("connect to drop %s: %w", d.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.Name, err)
	}
	return nil
}

// replaceDatabase returns url with its database name from replaced by to.
func replaceDatabase(url, from, to string) string {
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, q = url[:i], url[i:]
	}
	if from != "" && strings.HasSuffix(url, "/"+from) {
		return strings.TrimSuffix(url, from) + to + q
	}
	return strings.TrimSuffix(url, "/") + "/" + to + q
}

// ReadMachine describes this machine and the server behind pool for the report.
func ReadMachine(ctx context.Context, pool *pgxpool.Pool) (Machine, error) {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), Settings: map[string]string{}}
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&m.Postgres); err != nil {
		return m, fmt.Errorf("read server version: %w", err)
	}
	m.Postgres = "PostgreSQL " + m.Postgres
	for _, name := range settingNames {
		var v string
		if err := pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return m, fmt.Errorf("read setting %s: %w", name, err)
		}
		m.Settings[name] = v
	}
	return m, nil
}

// Durable reports whether the settings make every commit wait for the disk.
func (m Machine) Durable() bool {
	return m.Settings["fsync"] == "on" && m.Settings["synchronous_commit"] != "off"
}

// Checkpoint returns a Runner.BeforeRun that makes the server write its dirty pages out
// (CHECKPOINT), so that no path pays for the writes of the one before it. Without the privilege
// it logs once and does nothing.
func Checkpoint(pool *pgxpool.Pool, log *slog.Logger) func(context.Context) error {
	var warned bool
	return func(ctx context.Context) error {
		_, err := pool.Exec(ctx, "CHECKPOINT")
		if err != nil && !warned {
			warned = true
			log.Warn("bench: cannot CHECKPOINT between runs; runs may pay for each other's writes", "err", err)
		}
		return ctx.Err()
	}
}
