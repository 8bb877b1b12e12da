package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

var (
	// ErrUnknownProjector is matched by errors for a projector name the runner does not have.
	ErrUnknownProjector = errors.New("unknown projector")
	// ErrRebuildRunning is matched by a Rebuild refused because another rebuild of the same
	// projector, in this process or another, is in progress.
	ErrRebuildRunning = errors.New("a rebuild of this projector is already running")
)

// State is what a projector is doing.
type State string

// The states of a projector.
const (
	// StateRunning: a runner holds the projector's lock and follows the log.
	StateRunning State = "running"
	// StateStandby: this process waits for the lock another process holds.
	StateStandby State = "standby"
	// StateFailing: the runner is stopped at an event (or an infrastructure error) and retries.
	StateFailing State = "failing"
	// StateRebuilding: a rebuild is replaying the log into the projector's shadow schema.
	StateRebuilding State = "rebuilding"
	// StateStopped: no runner follows the log for this projector.
	StateStopped State = "stopped"
)

// Metrics receives what the runner measures; the process adapts it to its metrics system. Methods
// are called from the runner's goroutines and must not block.
type Metrics interface {
	// Applied is called after each committed batch: how many events it applied, the checkpoint it
	// moved to and how long its transaction took.
	Applied(projector string, events int, checkpoint eventstore.Position, took time.Duration)
	// Lag is called whenever the runner learns the log's head: the distance from the checkpoint
	// to the head in positions (which are not dense), and in events, or -1 when not known.
	Lag(projector string, positions uint64, events int64)
	// Failed is called for every failed attempt; errors.As(err, **EventError) finds the event
	// when one is to blame.
	Failed(projector string, err error)
	// StateChanged is called when the projector's state in this process changes.
	StateChanged(projector string, state State)
}

type nopMetrics struct{}

func (nopMetrics) Applied(string, int, eventstore.Position, time.Duration) {}
func (nopMetrics) Lag(string, uint64, int64)                               {}
func (nopMetrics) Failed(string, error)                                    {}
func (nopMetrics) StateChanged(string, State)                              {}

// EventCounter is implemented by event stores that can count the events in a stretch of the log
// cheaply. The runner uses it for the lag in events and for a rebuild's total; without it the lag
// is counted by reading up to 10,000 events, and a rebuild estimates its total from how densely
// the events it has read fill the positions.
type EventCounter interface {
	// CountEvents returns the number of events with after < position <= upTo.
	CountEvents(ctx context.Context, after, upTo eventstore.Position) (int64, error)
}

// FailedEvent is the event a failing projector is stopped at.
type FailedEvent struct {
	Position eventstore.Position
	Type     string
	Stream   string
}

// Info describes a projector for the admin commands and /admin/projections.
type Info struct {
	Name      string
	Position  eventstore.Position // the checkpoint: the last event applied
	Head      eventstore.Position // the log's last position, when known
	Lag       uint64              // Head - Position, in positions (not a count of events)
	LagEvents int64               // events after the checkpoint; -1 when not known (Status, or over 10,000 without an EventCounter)
	State     State
	Standbys  int       // runners of other processes waiting to take over (List only)
	UpdatedAt time.Time // when the checkpoint last moved (List only)

	// Error is why the projector is failing, and FailedEvent the event it is stopped at (nil when
	// the failure is not one event's, such as a lost connection).
	Error        string
	FailedEvent  *FailedEvent
	FailingSince time.Time
	Retries      int

	// Rebuild is the progress of a rebuild this process runs, nil when none.
	Rebuild *Progress
}

// worker is one projector's state in this process.
type worker struct {
	p       Projector
	name    string
	metrics Metrics

	mu           sync.Mutex
	state        State
	position     eventstore.Position
	head         eventstore.Position
	err          error
	failingSince time.Time
	retries      int
	rebuild      *Progress
}

func (w *worker) setState(s State) {
	w.mu.Lock()
	changed := w.state != s
	w.state = s
	if s != StateFailing {
		w.err, w.failingSince, w.retries = nil, time.Time{}, 0
	}
	w.mu.Unlock()
	if changed {
		w.metrics.StateChanged(w.name, s)
	}
}

// committed records a committed batch; it ends a failure.
func (w *worker) committed(pos eventstore.Position, events int, took time.Duration) {
	w.mu.Lock()
	w.position = max(w.position, pos)
	w.head = max(w.head, pos)
	lag := uint64(w.head - w.position)
	w.mu.Unlock()
	w.setState(StateRunning)
	if events > 0 {
		w.metrics.Applied(w.name, events, pos, took)
	}
	w.metrics.Lag(w.name, lag, -1)
}

// fail records a failed attempt.
func (w *worker) fail(err error) {
	w.mu.Lock()
	changed := w.state != StateFailing
	w.state = StateFailing
	w.err = err
	if w.failingSince.IsZero() {
		w.failingSince = time.Now()
	}
	w.retries++
	w.mu.Unlock()
	if changed {
		w.metrics.StateChanged(w.name, StateFailing)
	}
	w.metrics.Failed(w.name, err)
}

// setHead records the log's head as last seen.
func (w *worker) setHead(head eventstore.Position) {
	w.mu.Lock()
	w.head = max(w.head, head)
	lag := uint64(w.head - min(w.head, w.position))
	w.mu.Unlock()
	w.metrics.Lag(w.name, lag, -1)
}

func (w *worker) setRebuild(p *Progress) {
	w.mu.Lock()
	changed := (w.rebuild == nil) != (p == nil)
	w.rebuild = p
	state := w.state
	w.mu.Unlock()
	if changed && p != nil {
		w.metrics.StateChanged(w.name, StateRebuilding)
	} else if changed {
		w.metrics.StateChanged(w.name, state)
	}
}

func (w *worker) info() Info {
	w.mu.Lock()
	defer w.mu.Unlock()
	in := Info{
		Name:         w.name,
		Position:     w.position,
		Head:         max(w.head, w.position),
		LagEvents:    -1,
		State:        w.state,
		FailingSince: w.failingSince,
		Retries:      w.retries,
	}
	in.Lag = uint64(in.Head - in.Position)
	if w.err != nil {
		in.Error = w.err.Error()
		var ee *EventError
		if errors.As(w.err, &ee) {
			in.FailedEvent = &FailedEvent{Position: ee.Record.Position, Type: ee.Record.Type, Stream: ee.Record.Stream}
		}
	}
	if w.rebuild != nil {
		p := *w.rebuild
		in.Rebuild = &p
		in.State = StateRebuilding
	}
	return in
}

// Status returns what this process knows of each projector, without asking the database: the
// checkpoint it last committed or saw, the head it last saw, its state here, its failure and any
// rebuild it runs. List gives the view across processes.
func (r *Runner) Status() []Info {
	out := make([]Info, 0, len(r.projectors))
	for _, p := range r.projectors {
		out = append(out, r.workers[p.Name()].info())
	}
	return out
}

// List returns every projector's checkpoint, lag, state and failure as the database records them,
// across processes: this runner's projectors first, in order, then checkpoints of projectors it
// does not have (such as an older version a rebuild has not replaced yet).
func (r *Runner) List(ctx context.Context) ([]Info, error) {
	rows, err := loadCheckpoints(ctx, r.pool)
	if err != nil {
		return nil, err
	}
	type lockState struct{ held, rebuilding bool }
	locks := map[int64]*lockState{}
	lr, err := r.pool.Query(ctx, `SELECT classid::int8, objid::int8, granted FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 2
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil {
		return nil, fmt.Errorf("read projection locks: %w", err)
	}
	waiting := map[int64]int{}
	for lr.Next() {
		var class, obj int64
		var granted bool
		if err := lr.Scan(&class, &obj, &granted); err != nil {
			lr.Close()
			return nil, fmt.Errorf("read projection locks: %w", err)
		}
		ls := locks[obj]
		if ls == nil {
			ls = &lockState{}
			locks[obj] = ls
		}
		switch {
		case class == int64(liveLockClass) && granted:
			ls.held = true
		case class == int64(liveLockClass):
			waiting[obj]++
		case class == int64(rebuildLockClass) && granted:
			ls.rebuilding = true
		}
	}
	if err := lr.Err(); err != nil {
		return nil, fmt.Errorf("read projection locks: %w", err)
	}
	head, err := r.store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("read log head: %w", err)
	}

	info := func(name string) (Info, error) {
		in := Info{Name: name, Head: head, LagEvents: -1, State: StateStopped}
		if row, ok := rows[name]; ok {
			in.Position = row.Position
			in.UpdatedAt = row.UpdatedAt
			in.Retries = row.Retries
			if row.Error != nil {
				in.Error = *row.Error
				if row.FailingSince != nil {
					in.FailingSince = *row.FailingSince
				}
				if row.ErrorPosition != nil {
					in.FailedEvent = &FailedEvent{Position: eventstore.Position(*row.ErrorPosition),
						Type: deref(row.ErrorType), Stream: deref(row.ErrorStream)}
				}
			}
		}
		in.Head = max(head, in.Position)
		in.Lag = uint64(in.Head - in.Position)
		n, err := r.lagEvents(ctx, in.Position, in.Head)
		if err != nil {
			return in, fmt.Errorf("count lag of %s: %w", name, err)
		}
		in.LagEvents = n
		key := int64(uint32(lockKey(name)))
		in.Standbys = waiting[key]
		if ls := locks[key]; ls != nil {
			switch {
			case ls.rebuilding:
				in.State = StateRebuilding
			case ls.held && in.Error != "":
				in.State = StateFailing
			case ls.held:
				in.State = StateRunning
			}
		}
		if w, ok := r.workers[name]; ok {
			in.Rebuild = w.info().Rebuild
		}
		return in, nil
	}
	var out []Info
	for _, p := range r.projectors {
		in, err := info(p.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	for _, row := range sortedRows(rows) {
		if _, ok := r.workers[row.Name]; ok {
			continue
		}
		in, err := info(row.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// lagCountLimit is the most events lagEvents reads to count a lag when the store cannot count.
const lagCountLimit = 10_000

// lagEvents counts the events after pos up to head: with the store's EventCounter, else by reading
// up to lagCountLimit of them; -1 when there are more.
func (r *Runner) lagEvents(ctx context.Context, pos, head eventstore.Position) (int64, error) {
	if head <= pos {
		return 0, nil
	}
	if c, ok := r.store.(EventCounter); ok {
		return c.CountEvents(ctx, pos, head)
	}
	recs, err := r.store.ReadAll(ctx, pos, lagCountLimit+1)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rec := range recs {
		if rec.Position <= head {
			n++
		}
	}
	if n > lagCountLimit {
		return -1, nil
	}
	return int64(n), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
