// Package liveness records in a table every process shares (worker_liveness) which of the workers
// an order needs to settle are alive, so that every process's /readyz can say whether orders can
// settle anywhere: some relay publishing the log and some process manager consuming it. A worker
// beats (Beat) while it runs; readiness checks (Check) look for a recent beat of an active one.
// Times are the database's, so clocks of the processes do not matter.
package liveness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The roles readiness asks about.
const (
	// Relay is an instance of the relay: active while it holds the lock and publishes.
	Relay = "relay"
	// ProcessManager is an instance of the order-fulfilment process manager: active while it
	// consumes.
	ProcessManager = "saga"
)

// Defaults for Beat and Check: a beat every BeatEvery, and an instance whose last beat is older
// than Window counts as gone. Window is a few beats, so one slow write does not flap readiness.
const (
	BeatEvery = 250 * time.Millisecond
	Window    = 2 * time.Second
)

// newInstance names one worker in the table: its host, process id and a random suffix (a process
// may run more than one, as tests do).
func newInstance() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b)
}

// Beat records role's liveness for this process every BeatEvery until ctx ends, as active while
// active() says so; then it deletes its row (the instance is gone, not failing). Failed writes
// (the database is unreachable) are logged when they begin and when they end, and retried at the
// next beat.
func Beat(ctx context.Context, pool *pgxpool.Pool, role string, active func() bool, log *slog.Logger) {
	instance := newInstance()
	t := time.NewTicker(BeatEvery)
	defer t.Stop()
	var failingSince time.Time
	// Rows of instances that died without deleting theirs are forgotten after an hour.
	if _, err := pool.Exec(ctx, `DELETE FROM worker_liveness WHERE beat_at < now() - interval '1 hour'`); err != nil && ctx.Err() == nil {
		log.Warn("forget old liveness rows", "err", err)
	}
	for {
		bctx, cancel := context.WithTimeout(ctx, BeatEvery*2)
		_, err := pool.Exec(bctx, `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
INSERT INTO worker_liveness (role, instance, active, beat_at) SELECT $1, $2, $3, now() FROM async
ON CONFLICT (role, instance) DO UPDATE SET active = EXCLUDED.active, beat_at = EXCLUDED.beat_at`, role, instance, active())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && failingSince.IsZero():
			failingSince = time.Now()
			log.Warn("liveness not recorded: readiness elsewhere will count this instance as gone", "role", role, "err", err)
		case err == nil && !failingSince.IsZero():
			log.Info("liveness recorded again", "role", role, "failed_for", time.Since(failingSince).Round(time.Millisecond))
			failingSince = time.Time{}
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_, _ = pool.Exec(dctx, `DELETE FROM worker_liveness WHERE role = $1 AND instance = $2`, role, instance)
			cancel()
			return
		case <-t.C:
		}
	}
}

// Check returns nil when some instance of role, in any process, beat as active within Window,
// else an error that says what it found.
func Check(ctx context.Context, pool *pgxpool.Pool, role string) error {
	var active, standby int
	var ago *float64
	err := pool.QueryRow(ctx, `SELECT
	count(*) FILTER (WHERE active AND beat_at > now() - make_interval(secs => $2)),
	count(*) FILTER (WHERE NOT active AND beat_at > now() - make_interval(secs => $2)),
	extract(epoch FROM now() - max(beat_at) FILTER (WHERE active))::float8
FROM worker_liveness WHERE role = $1`, role, Window.Seconds()).Scan(&active, &standby, &ago)
	if err != nil {
		return fmt.Errorf("read liveness of %s: %w", role, err)
	}
	if active > 0 {
		return nil
	}
	if ago == nil {
		return fmt.Errorf("no active %s anywhere (%d standing by)", role, standby)
	}
	return fmt.Errorf("no active %s anywhere: the last beat of one was %.1f s ago (%d standing by)", role, *ago, standby)
}

// Polled returns a function that reports whether check passed when last run: check runs every d
// until ctx ends. Beat takes it as active for a worker whose health costs a round trip to learn
// (the process manager's broker), so that beats do not make one each.
func Polled(ctx context.Context, d time.Duration, check func(context.Context) error) func() bool {
	var ok atomic.Bool
	ok.Store(true)
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cctx, cancel := context.WithTimeout(ctx, d)
			ok.Store(check(cctx) == nil)
			cancel()
		}
	}()
	return ok.Load
}
