package postgres_test

import (
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// Accounts stored before migration 00202 as ACTIVE are REGISTERED after it, and may still be
// written with the default status.
func TestAccountStatusRenamedToRegistered(t *testing.T) {
	ctx := t.Context()
	pool, err := postgres.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("connect to an empty test database: %v", err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatalf("goose.NewProvider: %v", err)
	}
	if _, err := p.UpTo(ctx, 201); err != nil {
		t.Fatalf("migrate up to 00201: %v", err)
	}
	old := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO accounts (id, role, email, password_hash, name, phone)
		VALUES ($1, 'SELLER', 'old@example.com', '$argon2id$x', 'Old', '01012345678')`, old); err != nil {
		t.Fatalf("insert an account before the rename: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM accounts WHERE id = $1`, old).Scan(&status); err != nil || status != "REGISTERED" {
		t.Fatalf("status of an account stored as ACTIVE: %q, %v; want REGISTERED", status, err)
	}
	fresh := uuid.New()
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (id, role, email, password_hash, name, phone)
		VALUES ($1, 'SELLER', 'new@example.com', '$argon2id$x', 'New', '01012345678') RETURNING status`, fresh).Scan(&status); err != nil || status != "REGISTERED" {
		t.Fatalf("default status of a new account: %q, %v; want REGISTERED", status, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE accounts SET status = 'ACTIVE' WHERE id = $1`, fresh); err == nil {
		t.Fatal("status ACTIVE accepted after the rename; want the check to refuse it")
	}
}
