package pgserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/postgres/pgserver"
)

func TestStopAndStartAgain(t *testing.T) {
	s := pgserver.Start(t)
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return c.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatalf("ping the started server: %v", err)
	}
	s.Stop()
	if err := ping(); err == nil {
		t.Fatal("ping the stopped server succeeded")
	}
	s.Start()
	if err := ping(); err != nil {
		t.Fatalf("ping the server started again: %v", err)
	}
}
