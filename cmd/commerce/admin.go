package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/projections"
)

// runnerAdmin serves /admin/projections from the projection runner.
type runnerAdmin struct{ r *projections.Runner }

// Projections lists every projector's checkpoint, lag and state.
func (a runnerAdmin) Projections(ctx context.Context) ([]httpapi.ProjectionInfo, error) {
	infos, err := a.r.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projections: %w", err)
	}
	out := make([]httpapi.ProjectionInfo, len(infos))
	for i, in := range infos {
		out[i] = httpapi.ProjectionInfo{Name: in.Name, Position: in.Position, Head: in.Head, Lag: in.Lag,
			LagEvents: in.LagEvents, Status: string(in.State), Error: in.Error}
		if !in.UpdatedAt.IsZero() {
			at := in.UpdatedAt.UTC()
			out[i].UpdatedAt = &at
		}
		if p := in.Rebuild; p != nil {
			out[i].Rebuild = &httpapi.RebuildProgress{Done: p.Done, Total: p.Total, ETASeconds: p.ETA.Seconds()}
		}
	}
	return out, nil
}

// Rebuild rebuilds one projector, translating the runner's refusals into the API's.
func (a runnerAdmin) Rebuild(ctx context.Context, name string, started func()) error {
	err := a.r.Rebuild(ctx, name, func(projections.Progress) { started() })
	switch {
	case errors.Is(err, projections.ErrUnknownProjector):
		return fmt.Errorf("%w: %w", httpapi.ErrProjectionNotFound, err)
	case errors.Is(err, projections.ErrRebuildRunning):
		return fmt.Errorf("%w: %w", httpapi.ErrRebuildRunning, err)
	}
	return err
}
