package main

import (
	"context"
	"errors"
	"log/slog"
)

// The commands below are wired as their packages land; until then they say so.
var errPending = errors.New("not wired yet")

func serve(ctx context.Context, cfg config, log *slog.Logger) error { return errPending }
func seedCmd(ctx context.Context, cfg config, log *slog.Logger) error { return errPending }
func projectionsCmd(ctx context.Context, cfg config, log *slog.Logger, args []string) error {
	return errPending
}
func benchCmd(ctx context.Context, cfg config, log *slog.Logger, args []string) error {
	return errPending
}
