// Package httpapi is the HTTP API (its contract is in the README): a fiber app whose routes are
// huma operations, so that /openapi.json (OpenAPI 3.1) is generated from the code and every
// request is validated against its schema (unknown fields refused, every bad field named) before a
// handler runs.
//
// Every response body is the API's envelope: successes through ok, created and page
// (Envelope[T]), errors through one path. Handlers return errors; toEnvelope maps them
// (*domain.Error kinds, token errors, validation) to statuses, and
// anything unknown is a 500 with a generic message, logged once with the request id. Unknown
// routes, 405, bodies over 1 MiB and panics answer in the envelope too (fiber's ErrorHandler).
//
// # Adding a route group (HOWTO)
//
// One file per group, say catalog.go, holds the DTOs, the handlers and one register function:
//
//	func (s *Server) registerCatalog(api huma.API) {
//		huma.Register(api, op(huma.Operation{
//			OperationID: "create-category", Method: http.MethodPost, Path: "/categories",
//			Summary: "Create a category", Tags: []string{"catalog"},
//			DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
//		}, roles(domain.RoleSupervisor)), s.createCategory)
//	}
//
//	func (s *Server) createCategory(ctx context.Context, in *CreateCategoryInput) (*Created[CategoryView], error) {
//		... actor(ctx) is the caller; return created(view, location), or the error as it came ...
//	}
//
// Then add the one line s.registerCatalog to the list in (*Server).routes. The rules:
//
//   - Paths are relative to /api/v1. op's access argument is required: public, anyRole or
//     roles(...); a SUPERVISOR passes every role check. The token is checked before the body
//     is read. op documents 400 and 500 (and 401, 403, 503 when protected); list the others the
//     operation can answer in Errors (404, 409, 422, ...). s.rateLimited(o) adds the per-client
//     limit of login and sign-up. Text fields need no check of their own: checkText refuses
//     invalid UTF-8 and NUL in every path, query parameter and body string before any route.
//   - DTOs are separate from domain types, snake_case json tags, huma validation tags (fields
//     are required unless omitempty or `required:"false"`; minLength, maximum, enum, pattern
//     with patternDescription, format:"uuid"). Rules a schema cannot say go in a
//     Resolve(huma.Context, *huma.PathBuffer) []error method on the body, returning
//     *huma.ErrorDetail with the field's location, so every bad field is reported at once.
//     Path ids are uuid.UUID with format:"uuid"; lists embed PageQuery and return
//     page(items, in.PageQuery, total).
//   - Return errors as they come (*domain.Error, wrapped ones);
//     never write an error body. statusError(503, "...") covers refusals that are not domain
//     errors. For extra response headers (X-Event-Position) declare a response struct like
//     Created[T] with `header:"..."` fields.
//   - Dependencies (command handlers, read models) go into Deps and are copied into Server in
//     New. RequestID(ctx) is the correlation id for commands.
//   - Register a literal path before a parameter path that could match it (/users/me before
//     /users/{id}): fiber matches in registration order.
//   - Responses without data return ok[*Empty](nil) (data: null). Use a data type either as T
//     or as *T in responses, never both: huma names both Envelope<T> and panics at start.
//   - Tests go over HTTP on a real database: helpers_test.go has newEnv/newEnvOn (a server on
//     pgtest), env.user(), env.seller(), env.supervisor() (fresh accounts with tokens) and
//     env.expect(req, status[, result_code]).
//
// openapi_test.go fails when a fiber route is missing from /openapi.json or the reverse.
package httpapi
