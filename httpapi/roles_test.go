package httpapi_test

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"testing"

	"github.com/google/uuid"
)

// Each account route with each role: refused roles get 403 with 4005, no token 401 with 4000,
// allowed ones get past the check (whatever the handler then answers). The SUPERVISOR passes
// every check.
func testRolesPerRoute(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	s, sup := e.seller(), e.supervisor()
	id := uuid.NewString()
	const (
		public = "public"
		user   = "USER"
		anyone = "any"
		super  = "SUPERVISOR"
	)
	routes := []struct {
		method, path, who string
	}{
		{"POST", "/api/v1/users", public},
		{"POST", "/api/v1/auth/login", public},
		{"POST", "/api/v1/auth/refresh", public},
		{"GET", "/api/v1/users/" + id, public},
		{"POST", "/api/v1/auth/logout", anyone},
		{"GET", "/api/v1/users/me", user},
		{"PATCH", "/api/v1/users/me", user},
		{"DELETE", "/api/v1/users/me", user},
		{"GET", "/api/v1/users/me/profile", user},
		{"PUT", "/api/v1/users/me/profile", user},
		{"GET", "/api/v1/users/me/addresses", user},
		{"POST", "/api/v1/users/me/addresses", user},
		{"GET", "/api/v1/users/me/addresses/" + id, user},
		{"PUT", "/api/v1/users/me/addresses/" + id, user},
		{"DELETE", "/api/v1/users/me/addresses/" + id, user},
		{"POST", "/api/v1/sellers", super},
		{"GET", "/api/v1/sellers", super},
		{"GET", "/api/v1/sellers/" + id, super},
		{"GET", "/api/v1/admin/users", super},
		{"GET", "/api/v1/admin/users/" + id, super},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			// A fresh user each time: DELETE /users/me unregisters it.
			accounts := map[string]account{"USER": e.user(), "SELLER": s, "SUPERVISOR": sup}
			body := ""
			if rt.method != "GET" && rt.method != "DELETE" {
				body = `{}` // invalid for most: allowed callers get 400, never a change
			}
			noToken := e.do(req{method: rt.method, path: rt.path, body: body})
			if rt.who == public {
				if noToken.status == 401 || noToken.status == 403 {
					t.Fatalf("public route without token: %s", noToken)
				}
				return
			}
			if noToken.status != 401 || noToken.env.Result.Code != 4000 {
				t.Fatalf("without token: got %s, want 401 4000", noToken)
			}
			for role, a := range accounts {
				tk := e.login(a.email, password, role) // fresh: logout and delete spend it
				resp := e.do(req{method: rt.method, path: rt.path, body: body, token: tk.AccessToken})
				allowed := rt.who == anyone || role == rt.who || role == "SUPERVISOR"
				switch {
				case allowed && (resp.status == 401 || resp.status == 403):
					t.Fatalf("%s refused: %s", role, resp)
				case !allowed && (resp.status != 403 || resp.env.Result.Code != 4005):
					t.Fatalf("%s: got %s, want 403 4005", role, resp)
				case resp.status >= 500:
					t.Fatalf("%s: %s", role, resp)
				}
			}
		})
	}
}
