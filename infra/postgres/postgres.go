// Package postgres opens the connection pool and applies the schema migrations embedded in the
// binary. Migrations are goose SQL files under migrations/, each applied in its own transaction and
// recorded in goose_db_version; a Postgres advisory lock makes two processes that start at once
// apply them one after the other.
//
// Migration numbers are grouped by owner so that work in parallel does not collide:
// 001xx event store, 002xx accounts, 003xx read models and projections, 004xx commands, relay and
// fulfilment.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the pool size when the URL does not set pool_max_conns. Concurrent appends
// share group statements (infra/eventstore/postgres), so a few connections carry many waiting
// commits, and more connections than the server has cores to run them only queue inside it.
// commerce bench, 64 workers, 2 cores, the same pool for both paths: the event-sourced path
// settled 1,048 / 1,197 orders/s (hot / uniform) with 16 connections, 906 / 1,017 with 24 and
// 860 / 927 with 32. Size it to the database server's cores.
const DefaultMaxConns = 16

// Connect opens a pool to url and checks that the database answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// Migrate applies every embedded migration not yet applied to the database behind pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrate(ctx, db, log)
}

func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("open embedded migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("create migration provider: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	if log != nil {
		for _, r := range results {
			log.Info("migration applied", "source", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}
