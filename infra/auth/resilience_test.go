package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// Instances whose clocks differ by a few seconds accept each other's tokens (iat leeway); a
// token issued minutes in the future is still refused.
func TestClockSkewBetweenInstances(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := newService(t, pool)
	ctx := t.Context()
	if _, err := s.EnsureSeller(ctx, NewAccount{Name: "S", Email: "skew@example.com", Password: "abcd123!", Phone: "01012345678"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ahead   time.Duration
		wantErr error
	}{
		{5 * time.Second, nil},
		{20 * time.Second, nil},
		{5 * time.Minute, ErrTokenMalformed},
	} {
		ahead := newService(t, pool, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(tt.ahead) } })
		pair, err := ahead.Login(ctx, "skew@example.com", "abcd123!", domain.RoleSeller)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, pair.AccessToken); !errors.Is(err, tt.wantErr) {
			t.Errorf("Authenticate(a token issued by a clock %s ahead) = %v, want %v", tt.ahead, err, tt.wantErr)
		}
	}
}

// During a database outage, the revocation check answers from what the database last said for
// at most RevocationFallback: valid tokens keep working, one revoked elsewhere during the outage
// is refused as soon as the database answers again, and past the fallback the check is
// ErrUnavailable (503), never an unexplained error.
func TestRevocationCheckSurvivesAShortOutage(t *testing.T) {
	t.Parallel()
	url := pgtest.NewURL(t)
	ctx := t.Context()
	pool, err := postgres.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var skew atomic.Int64 // the test moves the services' clock forward
	clock := func(c *Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		c.RevocationCacheTTL, c.RevocationFallback = time.Second, 30*time.Second
	}
	s := newService(t, pool, clock)
	other := newService(t, pool, clock) // another process on the same database
	if _, err := s.EnsureSeller(ctx, NewAccount{Name: "S", Email: "out@example.com", Password: "abcd123!", Phone: "01012345678"}); err != nil {
		t.Fatal(err)
	}
	seen, err := s.Login(ctx, "out@example.com", "abcd123!", domain.RoleSeller)
	if err != nil {
		t.Fatal(err)
	}
	unseen, err := s.Login(ctx, "out@example.com", "abcd123!", domain.RoleSeller)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, seen.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate before the outage: %v", err)
	}
	// Revoked by the other process: this one still has "not revoked" cached.
	if err := other.Logout(ctx, p, ""); err != nil {
		t.Fatal(err)
	}

	outage(t, url, true)
	at := func(d time.Duration) { skew.Store(int64(d)) }
	at(2 * time.Second) // past the cache: the check goes to the database
	for name, tok := range map[string]string{"a token checked before": seen.AccessToken, "a token never checked": unseen.AccessToken} {
		if _, err := s.Authenticate(ctx, tok); err != nil {
			t.Fatalf("Authenticate(%s) 2 s into the outage = %v, want the last known answer (valid)", name, err)
		}
	}
	outage(t, url, false)
	at(2500 * time.Millisecond) // within the cache ttl of the failure: not asked yet
	if _, err := s.Authenticate(ctx, seen.AccessToken); err != nil {
		t.Fatalf("Authenticate(a token revoked elsewhere) within the cache ttl of the failed check = %v, want the last known answer", err)
	}
	at(3500 * time.Millisecond) // the database is asked again, and answers
	if _, err := s.Authenticate(ctx, seen.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("Authenticate(a token revoked during the outage) once the database answers = %v, want ErrTokenRevoked", err)
	}

	// An outage longer than the fallback: 503, not the last answers for ever.
	outage(t, url, true)
	at(40 * time.Second)
	if _, err := s.Authenticate(ctx, unseen.AccessToken); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Authenticate 36.5 s after the database last answered = %v, want ErrUnavailable", err)
	}
	outage(t, url, false)
	at(42 * time.Second)
	if _, err := s.Authenticate(ctx, unseen.AccessToken); err != nil {
		t.Fatalf("Authenticate(a valid token) once the database answers = %v", err)
	}
}

// outage stops (down) or restores the database at url: no new connections, and every open one
// terminated, as when the server restarts.
func outage(t *testing.T, url string, down bool) {
	t.Helper()
	admin, err := pgx.Connect(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	defer admin.Close(context.Background())
	name := url[strings.LastIndex(url, "/")+1:]
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	if _, err := admin.Exec(t.Context(), `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH ALLOW_CONNECTIONS `+map[bool]string{true: "false", false: "true"}[down]); err != nil {
		t.Fatalf("toggle connections to %s: %v", name, err)
	}
	if down {
		if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
			t.Fatalf("terminate the connections to %s: %v", name, err)
		}
	}
}

// Password hashes are bounded process-wide: never more at once than HashConcurrency, and a
// caller that cannot get a slot within HashWait is refused with ErrBusy.
func TestPasswordHashesAreBounded(t *testing.T) {
	t.Parallel()
	slots := newHashSlots(2, 20*time.Millisecond)
	var running, peak atomic.Int32
	var busy atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			err := slots.do(t.Context(), func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(50 * time.Millisecond)
				running.Add(-1)
			})
			if errors.Is(err, ErrBusy) {
				busy.Add(1)
			} else if err != nil {
				t.Errorf("do: %v", err)
			}
		})
	}
	wg.Wait()
	if peak.Load() > 2 || peak.Load() == 0 {
		t.Fatalf("%d hashes ran at once, want at most 2", peak.Load())
	}
	if busy.Load() == 0 {
		t.Fatal("12 hashes of 50 ms on 2 slots with a 20 ms wait: none refused, want ErrBusy for some")
	}
}
