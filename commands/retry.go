package commands

import (
	"context"
	"math/rand/v2"
	"time"
)

// Pause between a writer's attempts after a conflict with another process: a random duration up
// to retryBase·2^(attempt-1), at most retryMax. There is no bound on attempts: a command is never
// refused because of other traffic, only when its context ends.
const (
	retryBase = 2 * time.Millisecond
	retryMax  = 200 * time.Millisecond
)

// retrier paces a writer's attempts on one batch.
type retrier struct{ attempt int }

// wait reports the retry and sleeps before the next attempt. The writer drops the commands whose
// context ended during the pause; the pause itself is short enough not to need waking.
func (t *retrier) wait(stream string, obs Observer) {
	t.attempt++
	obs.Retry(stream, t.attempt+1)
	time.Sleep(backoff(t.attempt))
}

func backoff(attempt int) time.Duration {
	d := retryMax
	if attempt < 20 {
		d = min(retryBase<<(attempt-1), retryMax)
	}
	return rand.N(d) + time.Microsecond
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
