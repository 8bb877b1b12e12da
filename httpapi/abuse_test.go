package httpapi_test

import (
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
)

// Password changes are limited per account, whichever address they come from: 5 tries, then
// 429 with Retry-After; other changes of the account go on.
func testPasswordChangesAreRateLimited(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u := e.user()
	change := req{method: "PATCH", path: "/api/v1/users/me", token: u.tokens.AccessToken,
		body: map[string]string{"password": "N3wP@sswr0d!", "current_password": "guess123!"}}
	for i := range 5 {
		change.header = map[string]string{"X-Forwarded-For": "10.1.0." + string(rune('1'+i))}
		e.expect(change, 401)
	}
	r := e.expect(change, 429)
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", r.header)
	}
	change.body = map[string]string{"password": "N3wP@sswr0d!", "current_password": password}
	e.expect(change, 429)
	e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: u.tokens.AccessToken, body: map[string]string{"name": "Lee"}}, 200)
	e.login(u.email, password, "USER") // the password did not change
}

// Password hashing is bounded process-wide: a burst of sign-ups beyond the slots is answered 503
// with Retry-After (never 500), and the rest succeed.
func testHashingBurstIs503(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool, func(_ *httpapi.Deps, c *auth.Config) {
		// One slot, a hash of tens of milliseconds, and no patience: a burst must find it taken.
		c.HashConcurrency, c.HashWait = 1, time.Millisecond
		c.Argon2 = auth.Argon2Params{Memory: 16 * 1024, Time: 2, Threads: 1}
	})
	const n = 8
	statuses := make(chan response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			statuses <- e.do(req{method: "POST", path: "/api/v1/users", body: map[string]string{
				"name": "Burst", "email": email("burst"), "password": password, "phone": "01012345678"}})
		})
	}
	wg.Wait()
	close(statuses)
	created, busy := 0, 0
	for r := range statuses {
		switch {
		case r.status == 201:
			created++
		case r.status == 503 && r.env.Result.Code == 503 && r.header.Get("Retry-After") != "":
			busy++
		default:
			t.Errorf("sign-up in a burst: %s, want 201 or 503 with Retry-After", r)
		}
	}
	if created == 0 || busy == 0 {
		t.Fatalf("a burst of %d sign-ups on one hashing slot: %d created, %d refused; want some of each", n, created, busy)
	}
}
