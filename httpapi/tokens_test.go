package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"github.com/jackc/pgx/v5/pgxpool"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
)

// forge signs claims with secret (HS256), as an attacker who knows or guesses it would.
func forge(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// claimsOf returns the payload of a token without verifying it.
func claimsOf(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
		t.Fatalf("parse %q: %v", token, err)
	}
	return c
}

// editPayload re-encodes the payload of token with change applied, keeping header and signature.
func editPayload(t *testing.T, token string, change func(jwt.MapClaims)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	c := claimsOf(t, token)
	change(c)
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func testTokenTampering(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u := e.user()
	good := u.tokens.AccessToken
	me := func(token string) req { return req{method: "GET", path: "/api/v1/users/me", token: token} }
	e.expect(me(good), 200)

	valid := claimsOf(t, good)
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range valid {
			c[k] = v
		}
		change(c)
		return c
	}
	enc := base64.RawURLEncoding.EncodeToString
	algNone := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(good, ".")[1] + "."

	tests := []struct {
		name   string
		token  string
		header string // the whole Authorization header, when set
		status int
		code   int
	}{
		{"no header", "", "-", 401, 4000},
		{"basic scheme", "", "Basic dXNlcjpwYXNz", 401, 4000},
		{"bearer without token", "", "Bearer ", 401, 4000},
		{"role claim edited to SUPERVISOR", editPayload(t, good, func(c jwt.MapClaims) { c["role"] = "SUPERVISOR" }), "", 401, 4001},
		{"role claim edited to an unknown role", editPayload(t, good, func(c jwt.MapClaims) { c["role"] = "ADMIN" }), "", 401, 4001},
		{"subject edited", editPayload(t, good, func(c jwt.MapClaims) { c["sub"] = uuid.NewString() }), "", 401, 4001},
		{"alg none", algNone, "", 401, 4001},
		{"signed with the seller secret", forge(t, testSecrets.Seller, valid), "", 401, 4001},
		{"signed with a guessed secret", forge(t, "secret", valid), "", 401, 4001},
		{"expired", forge(t, testSecrets.User, with(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		})), "", 401, 4002},
		{"not a JWT", "abc", "", 401, 4003},
		{"three garbage parts", "a.b.c", "", 401, 4003},
		{"no exp", forge(t, testSecrets.User, with(func(c jwt.MapClaims) { delete(c, "exp") })), "", 401, 4003},
		{"refresh token as access token", u.tokens.RefreshToken, "", 401, 4003},
		{"subject not a uuid", forge(t, testSecrets.User, with(func(c jwt.MapClaims) { c["sub"] = "kim" })), "", 401, 4003},
		{"empty subject", forge(t, testSecrets.User, with(func(c jwt.MapClaims) { c["sub"] = "" })), "", 401, 4004},
		{"no subject", forge(t, testSecrets.User, with(func(c jwt.MapClaims) { delete(c, "sub") })), "", 401, 4004},
		{"a valid token of a role the route refuses", forge(t, testSecrets.Seller, with(func(c jwt.MapClaims) { c["role"] = "SELLER" })), "", 403, 4005},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := me(tt.token)
			switch tt.header {
			case "":
			case "-":
				r.token = ""
			default:
				r.header = map[string]string{"Authorization": tt.header}
			}
			resp := e.expect(r, tt.status, tt.code)
			if string(resp.env.Data) != "null" {
				t.Fatalf("token error carries data: %s", resp)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.header.Get("Www-Authenticate"), "Bearer") {
				t.Fatalf("401 without WWW-Authenticate: %v", resp.header)
			}
		})
	}
	// "bearer" in lower case is the same scheme.
	e.expect(req{method: "GET", path: "/api/v1/users/me", header: map[string]string{"Authorization": "bearer " + good}}, 200)
}

func testLogoutRevokesAtOnce(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u := e.user()
	second := e.login(u.email, password, "USER") // another session of the same user

	e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: u.tokens.AccessToken,
		body: map[string]string{"refresh_token": u.tokens.RefreshToken}}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: u.tokens.AccessToken}, 401, 4002)
	e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": u.tokens.RefreshToken}}, 401, 4002)
	e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: u.tokens.AccessToken}, 401, 4002)
	// The other session is untouched.
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: second.AccessToken}, 200)

	// Logout with only the bearer ends the whole session too: its refresh token is refused, and
	// so is an access token the session got from an earlier refresh.
	r := e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": second.RefreshToken}}, 200)
	var next tokens
	r.decode(t, &next)
	e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: next.AccessToken}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: next.AccessToken}, 401, 4002)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: second.AccessToken}, 401, 4002)
	e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": next.RefreshToken}}, 401, 4002)
	// ... also in another process, which learns it from the database.
	elsewhere := newEnvOn(t, pool)
	elsewhere.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": next.RefreshToken}}, 401, 4002)

	// Someone else's refresh token, or garbage, is refused and revokes nothing.
	third := e.login(u.email, password, "USER")
	other := e.user()
	for _, rt := range []string{other.tokens.RefreshToken, "garbage", third.AccessToken} {
		r := e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: third.AccessToken, body: map[string]string{"refresh_token": rt}}, 400)
		if r.fields()["refresh_token"] == "" {
			t.Fatalf("logout with a foreign refresh token: %s", r)
		}
	}
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: third.AccessToken}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: other.tokens.AccessToken}, 200)

	// With the refresh token, logout ends the whole session: an earlier access token of the same
	// login is refused too.
	first := e.login(u.email, password, "USER")
	r = e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": first.RefreshToken}}, 200)
	var rotated tokens
	r.decode(t, &rotated)
	e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: rotated.AccessToken,
		body: map[string]string{"refresh_token": rotated.RefreshToken}}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: first.AccessToken}, 401, 4002)

	// Every role may log out.
	for _, a := range []account{e.seller(), e.supervisor()} {
		e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: a.tokens.AccessToken}, 200)
		e.expect(req{method: "POST", path: "/api/v1/auth/logout", token: a.tokens.AccessToken}, 401, 4002)
	}
}

func testRefreshRotationAndReuse(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u := e.user()
	refresh := func(token string) req {
		return req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": token}}
	}
	r := e.expect(refresh(u.tokens.RefreshToken), 200)
	var next tokens
	r.decode(t, &next)
	if next.AccessToken == u.tokens.AccessToken || next.RefreshToken == u.tokens.RefreshToken {
		t.Fatal("refresh returned the same tokens")
	}
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: next.AccessToken}, 200)
	r = e.expect(refresh(next.RefreshToken), 200)
	var third tokens
	r.decode(t, &third)

	// A spent refresh token again: refused, and the whole chain with it.
	e.expect(refresh(u.tokens.RefreshToken), 401, 4002)
	e.expect(refresh(third.RefreshToken), 401, 4002)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: third.AccessToken}, 401, 4002)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: next.AccessToken}, 401, 4002)
	// A new login is a new session.
	fresh := e.login(u.email, password, "USER")
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: fresh.AccessToken}, 200)

	// Refresh takes refresh tokens only, verified like access tokens.
	e.expect(refresh(fresh.AccessToken), 401, 4003)
	e.expect(refresh(editPayload(t, fresh.RefreshToken, func(c jwt.MapClaims) { c["role"] = "SELLER" })), 401, 4001)
	e.expect(refresh(forge(t, testSecrets.User, jwt.MapClaims{"sub": u.id.String(), "role": "USER", "jti": uuid.NewString(),
		"sid": uuid.NewString(), "token_use": "refresh", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})), 401, 4002)
	e.expect(refresh(""), 400)

	// A seller's refresh keeps the role.
	s := e.seller()
	r = e.expect(refresh(s.tokens.RefreshToken), 200)
	var st tokens
	r.decode(t, &st)
	if claimsOf(t, st.AccessToken)["role"] != "SELLER" {
		t.Fatalf("refreshed seller token: %v", claimsOf(t, st.AccessToken))
	}
}

// A revocation made by another process is seen once the cached answer is older than the
// cache's TTL; one made by this process at once.
func testRevocationAcrossProcesses(t *testing.T, pool *pgxpool.Pool) {
	a := newEnvOn(t, pool)
	b := newEnvOn(t, a.pool, func(_ *httpapi.Deps, c *auth.Config) { c.RevocationCacheTTL = 200 * time.Millisecond })
	u := a.user()
	me := req{method: "GET", path: "/api/v1/users/me", token: u.tokens.AccessToken}
	b.expect(me, 200) // b caches "not revoked"
	a.expect(req{method: "POST", path: "/api/v1/auth/logout", token: u.tokens.AccessToken}, 200)
	a.expect(me, 401, 4002)
	eventually(t, 5*time.Second, "the other process still accepts a logged-out token", func() bool { return b.do(me).status != 200 })
	b.expect(me, 401, 4002)

	// Unregistering through a stops v's tokens on b too.
	v := a.user()
	meV := req{method: "GET", path: "/api/v1/users/me", token: v.tokens.AccessToken}
	b.expect(meV, 200)
	a.expect(req{method: "DELETE", path: "/api/v1/users/me", token: v.tokens.AccessToken}, 200)
	time.Sleep(250 * time.Millisecond)
	b.expect(meV, 401, 4002)
}

// A new password logs out every other session of the account; the session that changed it
// goes on, and the new password logs in.
func testPasswordChangeRevokesOtherSessions(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u := e.user()
	other := e.login(u.email, password, "USER")
	bystander := e.user()
	const newPassword = "N3wP@sswr0d!"
	// A stolen access token alone cannot change the password: the current one is needed, a wrong
	// one is 401, and neither revokes anything.
	r := e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: u.tokens.AccessToken, body: map[string]string{"password": newPassword}}, 400)
	if r.fields()["current_password"] == "" {
		t.Fatalf("PATCH password without current_password: %s, want 400 naming current_password", r)
	}
	e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: u.tokens.AccessToken, body: map[string]string{"password": newPassword, "current_password": "wrong123!"}}, 401)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: other.AccessToken}, 200)
	e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: u.tokens.AccessToken, body: map[string]string{"password": newPassword, "current_password": password}}, 200)

	e.expect(req{method: "GET", path: "/api/v1/users/me", token: other.AccessToken}, 401, 4002)
	e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": other.RefreshToken}}, 401, 4002)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: u.tokens.AccessToken}, 200)
	e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": u.tokens.RefreshToken}}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: bystander.tokens.AccessToken}, 200)
	e.expect(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"email": u.email, "password": password}}, 401)
	e.login(u.email, newPassword, "USER")

	// A change without a new password revokes nothing.
	again := e.login(u.email, newPassword, "USER")
	e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: u.tokens.AccessToken, body: map[string]string{"name": "Lee"}}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: again.AccessToken}, 200)
}
