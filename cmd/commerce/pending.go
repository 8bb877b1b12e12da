package main

import (
	"context"
	"errors"

	"github.com/commerce-dev/commerce/infra/bus"
)

// The commands below are wired as their packages land; until then they say so.
var errPending = errors.New("not wired yet")

func runFulfilment(ctx context.Context, a *app, b *bus.Bus) error { return errPending }
