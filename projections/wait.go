package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/leader"
)

// ErrBehind is matched by WaitFor's error when ctx ended before the projector's checkpoint reached
// the position: the read model is not fresh enough to answer (the API answers 503).
var ErrBehind = errors.New("projection has not reached the position")

// WaitFor returns nil once the projector named name (or whose base name is name) has applied the
// log up to pos: its checkpoint is at pos or after it. Positions are not dense, so "passed" is a
// comparison, never an equality. It does not poll in a loop: it wakes when this process commits a
// checkpoint and, for other processes' commits, on a Postgres notification, reading the checkpoints
// again only after a quiet WaitPoll. When ctx ends first it returns an error matching ErrBehind
// and ctx's error. A position beyond the log's head (not visible yet, or never written) waits for
// the whole of ctx; callers bound ctx (the API waits 2 s).
func (r *Runner) WaitFor(ctx context.Context, name string, pos eventstore.Position) error {
	w, err := r.lookup(name)
	if err != nil {
		return err
	}
	return r.waiter.wait(ctx, w.name, pos)
}

// WaitForAll is WaitFor for every projector of the runner.
func (r *Runner) WaitForAll(ctx context.Context, pos eventstore.Position) error {
	for _, p := range r.projectors {
		if err := r.waiter.wait(ctx, p.Name(), pos); err != nil {
			return err
		}
	}
	return nil
}

// listenerIdle is how long the listener keeps its connection after the last wait ended.
const listenerIdle = 30 * time.Second

// waiter knows the checkpoints of this process's projectors as they commit, here or elsewhere, and
// wakes the goroutines waiting for them. The LISTEN connection opens with the first wait and closes
// after listenerIdle without waits.
type waiter struct {
	pool *pgxpool.Pool
	poll time.Duration
	log  *slog.Logger

	ctx    context.Context // ends with Close
	cancel context.CancelFunc

	mu        sync.Mutex
	known     map[string]eventstore.Position
	changed   chan struct{} // closed and replaced whenever a checkpoint moves
	waiting   int
	lastWait  time.Time
	listening bool
}

func newWaiter(pool *pgxpool.Pool, poll time.Duration, log *slog.Logger) *waiter {
	ctx, cancel := context.WithCancel(context.Background())
	return &waiter{
		pool:    pool,
		poll:    poll,
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		known:   map[string]eventstore.Position{},
		changed: make(chan struct{}),
	}
}

func (w *waiter) close() { w.cancel() }

// advance records that name's checkpoint is at pos and wakes the waiters if it moved.
func (w *waiter) advance(name string, pos eventstore.Position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pos > w.known[name] {
		w.known[name] = pos
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// current returns the known checkpoint of name and the channel that closes when any checkpoint moves.
func (w *waiter) current(name string) (eventstore.Position, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.known[name], w.changed
}

func (w *waiter) wait(ctx context.Context, name string, pos eventstore.Position) error {
	if cp, _ := w.current(name); cp >= pos {
		return nil
	}
	w.enter()
	defer w.leave()
	// Read the checkpoint once: it may have moved in another process before the listener listened.
	var p int64
	err := w.pool.QueryRow(ctx, `SELECT position FROM `+checkpointTable+` WHERE name = $1`, name).Scan(&p)
	switch {
	case err == nil:
		w.advance(name, eventstore.Position(p))
	case errors.Is(err, pgx.ErrNoRows):
	case ctx.Err() != nil:
	default:
		return fmt.Errorf("read checkpoint of %s: %w", name, err)
	}
	for {
		cp, changed := w.current(name)
		if cp >= pos {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to reach position %d (it is at %d): %w: %w", name, pos, cp, ErrBehind, ctx.Err())
		case <-w.ctx.Done():
			return fmt.Errorf("wait for %s to reach position %d (it is at %d): runner closed: %w", name, pos, cp, ErrBehind)
		}
	}
}

// enter registers a wait and starts the listener when it is not running.
func (w *waiter) enter() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting++
	if !w.listening && w.ctx.Err() == nil {
		w.listening = true
		go w.listen()
	}
}

func (w *waiter) leave() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting--
	w.lastWait = time.Now()
}

// stop reports whether the listener should end (closed, or idle), and marks it ended if so; it is
// atomic with enter, so a wait never finds a listener that is about to leave.
func (w *waiter) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil || w.waiting == 0 && time.Since(w.lastWait) > listenerIdle {
		w.listening = false
		return true
	}
	return false
}

var errIdle = errors.New("no waits")

// listen keeps a LISTEN connection until stop says so, reconnecting after failures.
func (w *waiter) listen() {
	_, _ = backoff.Retry(w.ctx, func() (struct{}, error) {
		err := w.listenOnce()
		if errors.Is(err, errIdle) || w.stop() { // errIdle: stop has already said so
			return struct{}{}, nil
		}
		w.log.Warn("projection checkpoint listener failed: reading checkpoints, listening again after a pause", "err", err, "pause", w.poll)
		if err := w.readAll(w.ctx, w.pool); err != nil && w.ctx.Err() == nil {
			w.log.Warn("read projection checkpoints", "err", err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(backoff.NewConstantBackOff(w.poll)), backoff.WithMaxElapsedTime(0))
	w.stop() // when Close ended the pause: marks the listener ended
}

func (w *waiter) listenOnce() error {
	conn, err := pgx.ConnectConfig(w.ctx, leader.Keepalive(w.pool.Config().ConnConfig))
	if err != nil {
		return fmt.Errorf("connect to listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(w.ctx))
	if _, err := conn.Exec(w.ctx, "LISTEN "+checkpointChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Whatever committed before LISTEN took effect came without a notification.
	if err := w.readAll(w.ctx, conn); err != nil {
		return err
	}
	for {
		wctx, cancel := context.WithTimeout(w.ctx, w.poll)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if name, pos, ok := parseNotification(n.Payload); ok {
				w.advance(name, pos)
			}
		case w.ctx.Err() != nil:
			return w.ctx.Err()
		case pgconn.Timeout(err):
			// Quiet for a while: the slow fallback, in case a notification was lost.
			if w.stop() {
				return errIdle
			}
			if err := w.readAll(w.ctx, conn); err != nil {
				return err
			}
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// readAll reads every checkpoint.
func (w *waiter) readAll(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, `SELECT name, position FROM `+checkpointTable)
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var pos int64
		if err := rows.Scan(&name, &pos); err != nil {
			return fmt.Errorf("read checkpoints: %w", err)
		}
		w.advance(name, eventstore.Position(pos))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	return nil
}
