package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/auth"
)

// securityScheme names the bearer scheme in the OpenAPI document.
const securityScheme = "bearer"

// Operation metadata keys.
const (
	metaAccess = "access"
	metaErrors = "errors"
)

// access says who may call an operation: everyone, or the holders of a valid access token of
// one of roles. A SUPERVISOR passes every role check.
type access struct {
	public bool
	roles  []domain.Role
	// own is for routes that act on the caller's own account: a SUPERVISOR has none, so it
	// passes only when listed.
	own bool
}

// public operations need no token.
var public = access{public: true}

// anyRole operations need a valid token of any role.
var anyRole = roles(domain.RoleUser, domain.RoleSeller, domain.RoleSupervisor)

// roles operations need a valid token of one of rs (or of a SUPERVISOR).
func roles(rs ...domain.Role) access {
	if len(rs) == 0 {
		panic("httpapi: roles() needs at least one role; use public for open routes")
	}
	return access{roles: rs}
}

// ownAccount operations act on the caller's own account and need a token of one of rs; a
// SUPERVISOR is refused like any other role not listed (POST /orders).
func ownAccount(rs ...domain.Role) access {
	a := roles(rs...)
	a.own = true
	return a
}

func (a access) allows(r domain.Role) bool {
	return a.public || (r == domain.RoleSupervisor && !a.own) || slices.Contains(a.roles, r)
}

func (a access) describe() string {
	if a.public {
		return "Public."
	}
	names := make([]string, 0, len(a.roles)+1)
	for _, r := range a.roles {
		names = append(names, string(r))
	}
	if !a.own && !slices.Contains(a.roles, domain.RoleSupervisor) {
		names = append(names, string(domain.RoleSupervisor))
	}
	return "Roles: " + strings.Join(names, ", ") + "."
}

// op completes o for registration: who may call it (metadata, security requirement, a line in
// the description), the error statuses it documents (400 and 500 always, 401 and 403 when
// protected, plus o.Errors), and the body limit.
func op(o huma.Operation, a access) huma.Operation {
	if o.OperationID == "" || o.Method == "" || o.Path == "" || o.Summary == "" {
		panic(fmt.Sprintf("httpapi: operation %s %s needs an OperationID, a Method, a Path and a Summary", o.Method, o.Path))
	}
	if o.Metadata == nil {
		o.Metadata = map[string]any{}
	}
	o.Metadata[metaAccess] = a
	errs := append([]int{http.StatusBadRequest, http.StatusInternalServerError}, o.Errors...)
	if !a.public {
		o.Security = []map[string][]string{{securityScheme: {}}}
		// 503: the token revocation check's database failed for longer than its fallback.
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable)
	}
	slices.Sort(errs)
	o.Errors = slices.Compact(errs)
	o.Metadata[metaErrors] = slices.Clone(o.Errors)
	o.Description = strings.TrimSpace(a.describe() + " " + o.Description)
	o.MaxBodyBytes = bodyLimit
	// fiber has read the whole body (within ReadTimeout) before huma sees it.
	o.BodyReadTimeout = -1
	return o
}

// checkOperation runs as each operation is added to the OpenAPI document: it refuses an
// operation registered without op (no access rule: it would be public by accident) and drops
// the 422 huma documents for validation failures, which this API answers with 400.
func checkOperation(_ *huma.OpenAPI, o *huma.Operation) {
	if _, ok := o.Metadata[metaAccess].(access); !ok {
		panic(fmt.Sprintf("httpapi: operation %s %s was not built with op(): it has no access rule", o.Method, o.Path))
	}
	declared, _ := o.Metadata[metaErrors].([]int)
	if !slices.Contains(declared, http.StatusUnprocessableEntity) {
		delete(o.Responses, "422")
	}
}

type principalKey struct{}

// authenticate is the huma middleware that checks the bearer token and the role of every
// protected operation, before the request body is read or validated.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	a, _ := ctx.Operation().Metadata[metaAccess].(access)
	if a.public {
		next(ctx)
		return
	}
	token, err := bearer(ctx.Header("Authorization"))
	if err != nil {
		s.writeError(ctx, err)
		return
	}
	p, err := s.auth.Authenticate(ctx.Context(), token)
	if err != nil {
		s.writeError(ctx, err)
		return
	}
	if !a.allows(p.Actor.Role) {
		s.writeError(ctx, errRoleNotAllowed)
		return
	}
	next(huma.WithValue(ctx, principalKey{}, p))
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(header string) (string, error) {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", auth.ErrTokenMissing
	}
	return strings.TrimSpace(token), nil
}

// principal returns the verified token of the request; the zero Principal on public routes.
func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// actor returns the caller of a protected route.
func actor(ctx context.Context) domain.Actor {
	return principal(ctx).Actor
}

// writeError answers err from a huma middleware, through the same mapping as handler errors
// (finishHumaErrors sends its headers).
func (s *Server) writeError(ctx huma.Context, err error) {
	e := toEnvelope(err)
	_ = huma.WriteErr(s.api, ctx, e.status, e.Result.ResultDescription, e)
}
