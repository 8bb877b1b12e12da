package liveness_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/liveness"
	pgtest "github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/relay"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// instance is one relay with its liveness beat, as serve runs it.
type instance struct {
	r      *relay.Relay
	stop   context.CancelFunc // stops the relay, not its beat
	stopAt context.CancelFunc // stops both
	done   chan struct{}
}

func start(t *testing.T, pool *pgxpool.Pool, pub *bus.InProcess) *instance {
	t.Helper()
	r := relay.New(postgres.New(pool), pool, pub, relay.Options{Name: "liveness", Logger: quiet,
		LockCheck: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	all, stopAll := context.WithCancel(context.Background())
	rctx, stop := context.WithCancel(all)
	in := &instance{r: r, stop: stop, stopAt: stopAll, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		go liveness.Beat(all, pool, liveness.Relay, r.Active, quiet)
		_ = r.Run(rctx)
		<-all.Done()
	}()
	t.Cleanup(func() { stopAll(); <-in.done })
	return in
}

// until waits up to d for the readiness check of the relay to be ok (want true) or failing, and
// returns how long that took.
func until(t *testing.T, pool *pgxpool.Pool, want bool, d time.Duration, what string) time.Duration {
	t.Helper()
	begin := time.Now()
	for {
		err := liveness.Check(context.Background(), pool, liveness.Relay)
		if (err == nil) == want {
			return time.Since(begin)
		}
		if time.Since(begin) > d {
			t.Fatalf("%s: relay check = %v after %s", what, err, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReadinessTellsWhetherARelayIsActive checks what every process's /readyz says of the relay:
// not ready while no relay is active anywhere (none started, only a standby whose holder stopped
// publishing), ready within a second of one becoming active again, with no event to publish.
func TestReadinessTellsWhetherARelayIsActive(t *testing.T) {
	pool := pgtest.New(t)
	pub := bus.NewInProcess(bus.InProcessConfig{})
	defer pub.Close()

	if err := liveness.Check(context.Background(), pool, liveness.Relay); err == nil {
		t.Fatal("relay check with no relay started = nil, want an error")
	}
	a := start(t, pool, pub)
	t.Logf("ready %s after the first relay started", until(t, pool, true, 5*time.Second, "first relay"))
	b := start(t, pool, pub)
	time.Sleep(2 * liveness.BeatEvery)
	if err := liveness.Check(context.Background(), pool, liveness.Relay); err != nil {
		t.Fatalf("relay check with an active relay and a standby = %v, want nil", err)
	}

	// The holder's relay stops (freeing the lock) while its process lives on and beats: the
	// standby takes over, and readiness comes back. (The bounds here are generous: the test
	// machine may be loaded; TestRelayRecoversWithoutTraffic holds recovery to a second.)
	a.stop()
	time.Sleep(2 * liveness.BeatEvery)
	t.Logf("ready %s after the holder stopped", until(t, pool, true, 5*time.Second, "standby taking over"))

	// Nothing publishes anywhere: the standby stops too, while both processes beat on.
	b.stop()
	t.Logf("not ready %s after the last relay stopped", until(t, pool, false, 5*time.Second, "no relay active"))

	// A relay starts again, with no traffic: ready again.
	start(t, pool, pub)
	t.Logf("ready %s after a relay started again", until(t, pool, true, 5*time.Second, "relay back"))
}

// TestRelayRecoversWithoutTraffic ends the relay's lock session on the server, as a database
// restart or a connection reset does: the relay must be active again within a second without
// publishing anything.
func TestRelayRecoversWithoutTraffic(t *testing.T) {
	pool := pgtest.New(t)
	pub := bus.NewInProcess(bus.InProcessConfig{})
	defer pub.Close()
	in := start(t, pool, pub)
	until(t, pool, true, 5*time.Second, "relay start")
	var pid int32
	if err := pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid); err != nil {
		t.Fatalf("find the relay's lock session: %v", err)
	}
	if _, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatalf("terminate the relay's lock session: %v", err)
	}
	ended := time.Now()
	for in.r.Active() && time.Since(ended) < 2*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if in.r.Active() {
		t.Fatal("relay still active 2 s after its lock session ended")
	}
	for !in.r.Active() {
		if time.Since(ended) > time.Second {
			t.Fatalf("relay not active again %s after its lock session ended, with no traffic", time.Since(ended))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("relay active again %s after its lock session ended", time.Since(ended))
	if st := in.r.Status(); st.Published != 0 {
		t.Errorf("relay published %d messages, want 0: the recovery must not need traffic", st.Published)
	}
}
