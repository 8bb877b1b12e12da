package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestGroupStatementIsAllOrNothing writes appends in one group statement: with one expected
// version or condition on another stream wrong, nothing is written; with all right, each stream
// gets its events at the right versions and the results name the last of them. An AppendAll is
// one append of the group, refused or written as a whole.
func TestGroupStatementIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s := New(pgtest.New(t))
	ctx := t.Context()
	second := event(2)
	if _, err := s.Append(ctx, "g-existing", eventstore.NoStream, event(1), second); err != nil {
		t.Fatal(err)
	}
	pending := func(stream string, expected eventstore.ExpectedVersion, n int) *pendingAppend {
		a := eventstore.StreamAppend{Stream: stream, Expected: expected}
		for i := range n {
			a.Events = append(a.Events, event(i))
		}
		return &pendingAppend{ctx: ctx, parts: []eventstore.StreamAppend{a}, done: make(chan appendOutcome, 1)}
	}
	refused := []*pendingAppend{pending("g-a", eventstore.NoStream, 2), pending("g-existing", eventstore.Exact(1), 1), pending("g-b", eventstore.NoStream, 1)}
	var gr *groupRefusedError
	if _, err := s.appendGroupSQL(refused, false); !errors.As(err, &gr) || gr.failed[0] || !gr.failed[1] || gr.failed[2] {
		t.Fatalf("group with a wrong expected version = %v, want a groupRefusedError naming the second request alone", err)
	}
	refused[1] = pending("g-existing", eventstore.ExactAfter(2, uuid.New()), 1)
	if _, err := s.appendGroupSQL(refused, false); !errors.As(err, &gr) || gr.failed[0] || !gr.failed[1] || gr.failed[2] {
		t.Fatalf("group with the right version but another last event = %v, want a groupRefusedError naming the second request alone", err)
	}
	stale := pending("g-c", eventstore.NoStream, 1)
	stale.conds = []eventstore.StreamAt{{Stream: "g-existing", Version: 1}}
	refused[1] = stale
	if _, err := s.appendGroupSQL(refused, false); !errors.As(err, &gr) || gr.failed[0] || !gr.failed[1] || gr.failed[2] {
		t.Fatalf("group with a condition on a version another stream left = %v, want a groupRefusedError naming the second request alone", err)
	}
	for _, stream := range []string{"g-a", "g-b", "g-c"} {
		if _, err := s.ReadStream(ctx, stream, 1, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("after a refused group, %s: %v; want no stream", stream, err)
		}
	}

	// An AppendAll in a group is refused as a whole when one of its streams' checks fails.
	several := func(b eventstore.ExpectedVersion) *pendingAppend {
		p := pending("g-d", eventstore.NoStream, 1)
		p.parts = append(p.parts, pending("g-b", b, 2).parts...)
		return p
	}
	refused = []*pendingAppend{pending("g-a", eventstore.NoStream, 2), several(eventstore.Exact(3))}
	if _, err := s.appendGroupSQL(refused, false); !errors.As(err, &gr) || gr.failed[0] || !gr.failed[1] || gr.stream != "g-b" || gr.actual != 0 {
		t.Fatalf("group with an AppendAll whose second stream is not at its version = %v, want a groupRefusedError naming it, g-b at 0", err)
	}

	held := pending("g-c", eventstore.Exact(0), 1)
	held.conds = []eventstore.StreamAt{{Stream: "g-existing", Version: 2, Last: second.ID}}
	ok := []*pendingAppend{pending("g-a", eventstore.NoStream, 2), pending("g-existing", eventstore.ExactAfter(2, second.ID), 3), held, several(eventstore.NoStream)}
	results, err := s.appendGroupSQL(ok, true)
	if err != nil {
		t.Fatalf("group with right expected versions = %v", err)
	}
	want := [][]int64{{2}, {5}, {1}, {1, 2}}
	for i, p := range ok {
		for j, a := range p.parts {
			recs, err := s.ReadStream(ctx, a.Stream, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			last, res := recs[len(recs)-1], results[i][j]
			if res.Version != want[i][j] || last.Version != want[i][j] || last.Position != res.Position || last.ID != a.Events[len(a.Events)-1].ID {
				t.Fatalf("%s: result %+v, stream ends at %d/%d with %s; want version %d, the last event's id and position",
					a.Stream, res, last.Version, last.Position, last.ID, want[i][j])
			}
		}
	}
}

// TestConcurrentAppendsGroup runs rounds of concurrent appends, some of which must be refused,
// through Append: every append gets the result it would have had alone, and some were written by
// group statements.
func TestConcurrentAppendsGroup(t *testing.T) {
	t.Parallel()
	s := New(pgtest.New(t))
	ctx := t.Context()
	if _, err := s.Append(ctx, "taken", eventstore.NoStream, event(0)); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20 && (round < 2 || s.groupedAppends.Load() == 0); round++ {
		const n = 48
		streams := make([]string, n)
		errs := make([]error, n)
		res := make([]eventstore.AppendResult, n)
		var wg sync.WaitGroup
		for i := range n {
			streams[i] = "c-" + uuid.NewString()
			expected := eventstore.NoStream
			switch i % 8 {
			case 3:
				streams[i] = "taken" // refused: the stream exists
			case 5:
				expected = eventstore.Any
			}
			wg.Go(func() {
				res[i], errs[i] = s.Append(context.Background(), streams[i], expected, event(i), event(i+1))
			})
		}
		wg.Wait()
		for i := range n {
			if streams[i] == "taken" {
				var wv *eventstore.WrongVersionError
				if !errors.As(errs[i], &wv) || wv.Actual != 1 {
					t.Fatalf("round %d: NoStream on an existing stream = %v, want a WrongVersionError at version 1", round, errs[i])
				}
				continue
			}
			if errs[i] != nil || res[i].Version != 2 {
				t.Fatalf("round %d: append %d = %+v, %v; want version 2", round, i, res[i], errs[i])
			}
			recs, err := s.ReadStream(ctx, streams[i], 1, 0)
			if err != nil || len(recs) != 2 || recs[1].Position != res[i].Position {
				t.Fatalf("round %d: %s holds %d events (%v), want 2 ending at %d", round, streams[i], len(recs), err, res[i].Position)
			}
		}
	}
	if s.groupedAppends.Load() == 0 {
		t.Fatalf("no append was written by a group statement in 20 rounds of 48 concurrent appends")
	}
}

// TestGroupAppendsRunOnTheGenericPlan: the group statement is never planned for its arguments
// (genericPlanSQL), and the setting ends with each group's transaction. One connection, so that
// its prepared statements and settings are the ones looked at.
func TestGroupAppendsRunOnTheGenericPlan(t *testing.T) {
	t.Parallel()
	cfg := pgtest.New(t).Config()
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open a one-connection pool: %v", err)
	}
	t.Cleanup(pool.Close)
	s := New(pool)
	ctx := t.Context()
	for i := range 8 { // past the 5 custom plans the server makes before it may choose
		stream := fmt.Sprintf("generic-%d", i)
		if _, err := s.Append(ctx, stream, eventstore.NoStream, event(1)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		group := []*pendingAppend{
			{ctx: ctx, parts: []eventstore.StreamAppend{{Stream: stream, Expected: eventstore.Exact(1), Events: []eventstore.EventData{event(2)}}}},
			{ctx: ctx, parts: []eventstore.StreamAppend{{Stream: stream + "-b", Expected: eventstore.NoStream, Events: []eventstore.EventData{event(1)}}}},
		}
		if _, err := s.appendGroupSQL(group, false); err != nil {
			t.Fatalf("group append %d: %v", i, err)
		}
	}
	var generic, custom int64
	err = pool.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`, groupSQL).Scan(&generic, &custom)
	if err != nil {
		t.Fatalf("find the group statement among the connection's prepared statements: %v", err)
	}
	if custom != 0 || generic != 8 {
		t.Errorf("the group statement ran on %d generic and %d custom plans, want 8 and 0", generic, custom)
	}
	var mode string
	if err := pool.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "auto" {
		t.Errorf("after the appends the connection's plan_cache_mode is %q, want the default, auto", mode)
	}
}
