package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// ProjectionAdmin lists the projections and rebuilds one; cmd/commerce adapts
// *projections.Runner to it.
type ProjectionAdmin interface {
	// Projections returns every projection's checkpoint, lag and state.
	Projections(ctx context.Context) ([]ProjectionInfo, error)
	// Rebuild rebuilds the projection named name from the start of the log and returns when it
	// is done. It calls started once, when it holds the projection's rebuild lock; an error
	// before that is a refusal, matching ErrProjectionNotFound or ErrRebuildRunning.
	Rebuild(ctx context.Context, name string, started func()) error
}

// Refusals of ProjectionAdmin.Rebuild; adapters wrap them around their own errors.
var (
	// ErrProjectionNotFound is a rebuild of a projection that does not exist (404).
	ErrProjectionNotFound = &domain.Error{Kind: domain.NotFound, Code: "PROJECTION_NOT_FOUND", Message: "no such projection"}
	// ErrRebuildRunning is a rebuild refused because one of the same projection is running, in
	// this process or another (409).
	ErrRebuildRunning = &domain.Error{Kind: domain.Conflict, Code: "REBUILD_RUNNING", Message: "a rebuild of this projection is already running"}
)

// ProjectionInfo is a projection as GET /admin/projections shows it.
type ProjectionInfo struct {
	Name      string              `json:"name" example:"catalog.v1"`
	Position  eventstore.Position `json:"position" doc:"The checkpoint: the last event applied"`
	Head      eventstore.Position `json:"head" doc:"The log's last position"`
	Lag       uint64              `json:"lag" doc:"head - position, in positions (not dense)"`
	LagEvents int64               `json:"lag_events" doc:"Events after the checkpoint; -1 when the store cannot count them"`
	Status    string              `json:"status" enum:"running,standby,failing,rebuilding,stopped"`
	Error     string              `json:"error,omitempty" doc:"Why it is failing"`
	UpdatedAt *time.Time          `json:"updated_at,omitempty" doc:"When the checkpoint last moved"`
	Rebuild   *RebuildProgress    `json:"rebuild,omitempty" doc:"The progress of a rebuild this process runs"`
}

// RebuildProgress is how far a rebuild is.
type RebuildProgress struct {
	Done       int64   `json:"done" doc:"Events replayed so far"`
	Total      int64   `json:"total" doc:"Events to replay (an estimate that grows with writes)"`
	ETASeconds float64 `json:"eta_seconds"`
}

// RebuildView is the answer to a rebuild request.
type RebuildView struct {
	Name   string `json:"name"`
	Status string `json:"status" enum:"rebuilding"`
}

// StreamEventView is one stored event.
type StreamEventView struct {
	ID         uuid.UUID           `json:"id"`
	Type       string              `json:"type" example:"order.placed.v1"`
	Stream     string              `json:"stream"`
	Version    int64               `json:"version" doc:"1-based place in the stream"`
	Position   eventstore.Position `json:"position" doc:"Place in the global log"`
	RecordedAt time.Time           `json:"recorded_at"`
	Data       json.RawMessage     `json:"data"`
	Metadata   json.RawMessage     `json:"metadata" doc:"correlation_id, causation_id, actor_id, actor_role"`
}

// ProjectionNameInput names a projection.
type ProjectionNameInput struct {
	Name string `path:"name" minLength:"1" maxLength:"100" doc:"A projection's name (catalog.v1) or base name (catalog)"`
}

// StreamInput is GET /admin/streams/{stream_id}.
type StreamInput struct {
	StreamID string `path:"stream_id" minLength:"1" maxLength:"200" doc:"Such as order-<uuid>, product-<uuid>"`
	PageQuery
}

func (s *Server) registerAdmin(api huma.API) {
	supervisor := roles(domain.RoleSupervisor)
	tags := []string{"admin"}
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-list-projections", Method: http.MethodGet, Path: "/admin/projections", Tags: tags,
		Summary: "The projections: checkpoint, lag and state",
	}, supervisor), s.listProjections)
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-rebuild-projection", Method: http.MethodPost, Path: "/admin/projections/{name}/rebuild", Tags: tags,
		Summary: "Rebuild a projection from the start of the log",
		Description: "Starts the rebuild in the background and answers 202 once it runs; the live read model keeps serving until the rebuilt one replaces it. " +
			"Follow it in GET /admin/projections. A rebuild of the same projection already running is 409; an unknown projection 404.",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, supervisor), s.rebuildProjection)
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-read-stream", Method: http.MethodGet, Path: "/admin/streams/{stream_id}", Tags: tags,
		Summary: "A stream's events, oldest first", Description: "For support; page and size go by version. An unknown stream is 404.",
		Errors: []int{http.StatusNotFound},
	}, supervisor), s.readStream)
}

func (s *Server) listProjections(ctx context.Context, _ *struct{}) (*Response[[]ProjectionInfo], error) {
	list, err := s.projections.Projections(ctx)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []ProjectionInfo{}
	}
	return ok(list), nil
}

func (s *Server) rebuildProjection(ctx context.Context, in *ProjectionNameInput) (*Response[RebuildView], error) {
	started, done := make(chan struct{}), make(chan error, 1)
	bg := context.WithoutCancel(ctx)
	go func() {
		var once sync.Once
		err := s.projections.Rebuild(bg, in.Name, func() { once.Do(func() { close(started) }) })
		done <- err
		select {
		case <-started:
		default:
			return // refused: the request answers it
		}
		if err != nil {
			s.log.Error("projection rebuild failed", "projection", in.Name, "err", err, "request_id", RequestID(ctx))
			return
		}
		s.log.Info("projection rebuilt", "projection", in.Name, "request_id", RequestID(ctx))
	}()
	select {
	case <-started:
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("rebuild projection %s: %w", in.Name, err)
		}
	}
	r := ok(RebuildView{Name: in.Name, Status: "rebuilding"})
	r.Status, r.Body.Result = http.StatusAccepted, okResult(http.StatusAccepted)
	return r, nil
}

func (s *Server) readStream(ctx context.Context, in *StreamInput) (*Response[[]StreamEventView], error) {
	last, err := s.store.ReadStreamBackward(ctx, in.StreamID, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(last) == 0) {
		return nil, domain.NotFoundf("STREAM_NOT_FOUND", "stream %s not found", in.StreamID)
	}
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", in.StreamID, err)
	}
	total := last[0].Version
	var recs []eventstore.Record
	if int64(in.Offset()) < total {
		recs, err = s.store.ReadStream(ctx, in.StreamID, int64(in.Offset())+1, in.Size)
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", in.StreamID, err)
		}
	}
	views := make([]StreamEventView, len(recs))
	for i, r := range recs {
		views[i] = StreamEventView{ID: r.ID, Type: r.Type, Stream: r.Stream, Version: r.Version, Position: r.Position,
			RecordedAt: r.RecordedAt.UTC(), Data: r.Data, Metadata: r.Metadata}
	}
	return page(views, in.PageQuery, total), nil
}
