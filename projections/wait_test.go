package projections

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

func TestWaitForReadsYourWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ss := streams("w", 2)
	c := newCounter("counter.v1")
	api := e.runner(e.newPool(), Options{WaitPoll: time.Minute}, newCounter("counter.v1")) // another process, no Run
	r := e.runner(e.pool, Options{}, c)
	start(t, context.Background(), r)
	waitFor(t, r, "counter.v1", 0)

	for i := range 5 {
		pos := e.appendEvents(ss, 3, 3, "test.counted.v1")
		// This process: woken by the runner's commit.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := r.WaitFor(ctx, "counter.v1", pos); err != nil {
			t.Fatalf("write %d: WaitFor in the runner's process = %v, want nil within 2 s", i, err)
		}
		cancel()
		// Another process: woken by NOTIFY; its fallback poll (a minute) is too slow to pass.
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		if err := api.WaitFor(ctx, "counter", pos); err != nil {
			t.Fatalf("write %d: WaitFor by base name in another process = %v, want nil within 2 s", i, err)
		}
		cancel()
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM readmodel.counter_events WHERE position = $1`, int64(pos)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("write %d: after WaitFor the read model has %d rows for position %d (err %v), want 1", i, n, pos, err)
		}
	}

	// A waiter that is already waiting when the write happens.
	done := make(chan error, 1)
	next := make(chan eventstore.Position, 1)
	go func() {
		pos := <-next
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- api.WaitForAll(ctx, pos)
	}()
	cp, _ := e.checkpointOf("counter.v1")
	next <- cp + 1 // beyond the checkpoint: waits for the next write
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("WaitForAll(%d) returned %v before anything was written after %d", cp+1, err, cp)
	default:
	}
	e.appendEvents(ss, 1, 1, "test.counted.v1")
	if err := <-done; err != nil {
		t.Fatalf("WaitForAll after the next write = %v, want nil", err)
	}
}

func TestWaitForTimesOutBehind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.runner(e.pool, Options{}, newCounter("counter.v1"))
	start(t, context.Background(), r)
	pos := e.appendEvents(streams("b", 1), 1, 1, "test.counted.v1")
	waitFor(t, r, "counter.v1", pos)

	// A position beyond the head: the log may not show it yet, so it waits for the whole ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := r.WaitFor(ctx, "counter.v1", pos+1<<40)
	took := time.Since(began)
	if !errors.Is(err, ErrBehind) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor beyond the head = %v, want ErrBehind and DeadlineExceeded", err)
	}
	if took < 300*time.Millisecond || took > 2*time.Second {
		t.Fatalf("WaitFor beyond the head returned after %s, want about 300 ms (its ctx)", took)
	}
	if err := r.WaitFor(context.Background(), "nope", 1); !errors.Is(err, ErrUnknownProjector) {
		t.Fatalf("WaitFor(nope) = %v, want ErrUnknownProjector", err)
	}
}

func TestWaitForWithoutRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `INSERT INTO `+checkpointTable+` (name, position) VALUES ('counter.v1', 10)`); err != nil {
		t.Fatalf("insert checkpoint: %v", err)
	}
	wait := func(r *Runner, pos eventstore.Position) <-chan error {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			done <- r.WaitFor(ctx, "counter.v1", pos)
		}()
		return done
	}

	// Checkpoints committed by another process wake waiters through NOTIFY.
	notified := e.runner(e.newPool(), Options{WaitPoll: time.Minute}, newCounter("counter.v1"))
	if err := <-wait(notified, 10); err != nil {
		t.Fatalf("WaitFor an existing checkpoint = %v, want nil", err)
	}
	done := wait(notified, 20)
	time.Sleep(200 * time.Millisecond) // let it listen
	began := time.Now()
	if _, err := e.pool.Exec(ctx, `BEGIN; UPDATE `+checkpointTable+` SET position = 25 WHERE name = 'counter.v1';
SELECT pg_notify('`+checkpointChannel+`', 'counter.v1 25'); COMMIT`); err != nil {
		t.Fatalf("move checkpoint: %v", err)
	}
	if err := <-done; err != nil || time.Since(began) > 2*time.Second {
		t.Fatalf("WaitFor after a notified commit = %v after %s, want nil at once", err, time.Since(began))
	}

	// Without a notification (lost, or the listener was reconnecting), the slow poll finds it.
	polled := e.runner(e.newPool(), Options{WaitPoll: 200 * time.Millisecond}, newCounter("counter.v1"))
	done = wait(polled, 30)
	time.Sleep(300 * time.Millisecond)
	if _, err := e.pool.Exec(ctx, `UPDATE `+checkpointTable+` SET position = 30 WHERE name = 'counter.v1'`); err != nil {
		t.Fatalf("move checkpoint: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitFor after a silent commit = %v, want nil once the poll reads it", err)
	}
}
