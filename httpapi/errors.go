package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/auth"
)

// Token result codes of the API: 401 with 4000-4004, 403 with 4005.
const (
	codeNoToken        = 4000
	codeBadSignature   = 4001
	codeExpired        = 4002
	codeMalformed      = 4003
	codeEmptySubject   = 4004
	codeRoleNotAllowed = 4005
)

// errRoleNotAllowed is returned when a valid token's role may not call the operation.
var errRoleNotAllowed = errors.New("the token's role may not use this route")

// notFresh is the answer to a query whose read model did not reach its min_position within the
// wait: 503 with Retry-After, never stale data. Return it as it is: huma takes the headers from
// the handler's error.
func notFresh() *ErrorEnvelope {
	return serviceUnavailable("the read model has not reached min_position yet; try again")
}

// serviceUnavailable is a 503 that a retry in a second may cure.
func serviceUnavailable(description string) *ErrorEnvelope {
	e := errorEnvelope(http.StatusServiceUnavailable, http.StatusServiceUnavailable, description)
	e.headers = http.Header{"Retry-After": {"1"}}
	return e
}

// ErrorEnvelope is the body of every error response: the API's envelope whose data, for a
// validation error, names every failing field. It is also the error value handlers and
// middlewares hand to huma, so huma writes it as it is.
type ErrorEnvelope struct {
	status  int
	cause   error
	headers http.Header

	Result     Result      `json:"result"`
	Data       *ErrorData  `json:"data"`
	Pagination *Pagination `json:"pagination"`
}

// ErrorData is the data of an error response; null unless there are fields or checks.
type ErrorData struct {
	_      struct{}          `nullable:"true"`
	Fields map[string]string `json:"fields,omitempty" doc:"Each failing field (snake_case, as sent) and why it fails"`
	Checks map[string]string `json:"checks,omitempty" doc:"For /readyz: each dependency and its state"`
}

// Error returns the description.
func (e *ErrorEnvelope) Error() string { return e.Result.ResultDescription }

// Unwrap returns the cause of a 500, for logging.
func (e *ErrorEnvelope) Unwrap() error { return e.cause }

// GetStatus returns the HTTP status (huma.StatusError).
func (e *ErrorEnvelope) GetStatus() int { return e.status }

// GetHeaders returns headers to send with the error (huma.HeadersError).
func (e *ErrorEnvelope) GetHeaders() http.Header { return e.headers }

func errorEnvelope(status, code int, description string) *ErrorEnvelope {
	if description == "" {
		description = http.StatusText(status)
	}
	return &ErrorEnvelope{
		status: status,
		Result: Result{ResultCode: code, ResultMessage: http.StatusText(status), ResultDescription: description},
	}
}

// statusError returns an error answered with status and description: for refusals that are
// neither domain errors nor validation, such as 503 when a read model is not fresh enough.
func statusError(status int, description string) error {
	return errorEnvelope(status, status, description)
}

// tokenError is the 401 for a token failure, with its API result code.
func tokenError(code int, description string) *ErrorEnvelope {
	e := errorEnvelope(http.StatusUnauthorized, code, description)
	e.headers = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
	if code == codeNoToken {
		e.headers = http.Header{"Www-Authenticate": {`Bearer`}}
	}
	return e
}

// toEnvelope is the one place that decides how an error is answered. Rule for domain errors:
// Invalid with code VALIDATION (or with Fields) is a malformed request, 400; any other Invalid
// code is a business rule refusing a well-formed request (the 4th address, an order with a
// product not on sale), 422. NotFound 404, Conflict 409, Forbidden 403. A version conflict
// (eventstore.ErrWrongVersion) is not among them: the command side re-reads and decides again
// until the request's context ends, so one reaching here is a fault, answered 500 and logged like
// anything unknown. Anything unknown is 500 with a generic description; its cause is kept for the
// log and never sent.
func toEnvelope(err error) *ErrorEnvelope {
	var env *ErrorEnvelope
	if errors.As(err, &env) {
		return env
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return domainEnvelope(de)
	}
	switch {
	case errors.Is(err, auth.ErrTokenMissing):
		return tokenError(codeNoToken, "no Authorization: Bearer token")
	case errors.Is(err, auth.ErrTokenSignature):
		return tokenError(codeBadSignature, "the token signature is invalid")
	case errors.Is(err, auth.ErrTokenExpired):
		return tokenError(codeExpired, "the token has expired")
	case errors.Is(err, auth.ErrTokenRevoked):
		return tokenError(codeExpired, "the token has been revoked (logged out)")
	case errors.Is(err, auth.ErrTokenMalformed):
		return tokenError(codeMalformed, "the token is malformed")
	case errors.Is(err, auth.ErrTokenSubject):
		return tokenError(codeEmptySubject, "the token has no subject")
	case errors.Is(err, errRoleNotAllowed):
		return errorEnvelope(http.StatusForbidden, codeRoleNotAllowed, errRoleNotAllowed.Error())
	case errors.Is(err, auth.ErrBadCredentials):
		return errorEnvelope(http.StatusUnauthorized, http.StatusUnauthorized, auth.ErrBadCredentials.Error())
	case errors.Is(err, auth.ErrWrongPassword):
		return errorEnvelope(http.StatusUnauthorized, http.StatusUnauthorized, auth.ErrWrongPassword.Error())
	case errors.Is(err, auth.ErrBusy):
		return serviceUnavailable(auth.ErrBusy.Error())
	case errors.Is(err, auth.ErrUnavailable):
		return serviceUnavailable(auth.ErrUnavailable.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return pastDeadline(err)
	case connectionLost(err):
		return unreachable(err)
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fiberEnvelope(fe)
	}
	e := errorEnvelope(http.StatusInternalServerError, http.StatusInternalServerError, "internal error; quote the X-Request-ID when reporting it")
	e.cause = err
	return e
}

// codeStatus answers the business refusals whose kind alone would give another status: a restock
// past the stock limit and a product not on sale are conflicts of the product aggregate, and an
// order naming an unknown product or one not on sale names the failing lines, yet each refuses a
// well-formed request (422); a reused Idempotency-Key is 422, a malformed one 400.
var codeStatus = map[string]int{
	product.CodeStockLimit:             http.StatusUnprocessableEntity,
	product.CodeNotOnSale:              http.StatusUnprocessableEntity,
	commands.CodeProductNotOnSale:      http.StatusUnprocessableEntity,
	commands.CodeUnknownProduct:        http.StatusUnprocessableEntity,
	commands.CodeIdempotencyKeyReused:  http.StatusUnprocessableEntity,
	commands.CodeIdempotencyKeyInvalid: http.StatusBadRequest,
}

func domainEnvelope(de *domain.Error) *ErrorEnvelope {
	status := http.StatusInternalServerError
	switch de.Kind {
	case domain.Invalid:
		status = http.StatusUnprocessableEntity
		if de.Code == domain.CodeValidation || len(de.Fields) > 0 {
			status = http.StatusBadRequest
		}
	case domain.NotFound:
		status = http.StatusNotFound
	case domain.Conflict:
		status = http.StatusConflict
	case domain.Forbidden:
		status = http.StatusForbidden
	}
	if s, ok := codeStatus[de.Code]; ok && status != http.StatusInternalServerError {
		status = s
	}
	if status == http.StatusInternalServerError {
		e := errorEnvelope(status, status, "internal error")
		e.cause = de
		return e
	}
	e := errorEnvelope(status, status, de.Error())
	if len(de.Fields) > 0 {
		e.Data = &ErrorData{Fields: de.Fields}
		e.Result.ResultDescription = describeFields(de.Fields)
	}
	return e
}

func fiberEnvelope(fe *fiber.Error) *ErrorEnvelope {
	switch fe.Code {
	case http.StatusNotFound:
		return errorEnvelope(fe.Code, fe.Code, "no such route")
	case http.StatusMethodNotAllowed:
		return errorEnvelope(fe.Code, fe.Code, "the route does not take this method")
	case http.StatusRequestEntityTooLarge:
		return errorEnvelope(fe.Code, fe.Code, fmt.Sprintf("the body is larger than %d bytes", bodyLimit))
	}
	if fe.Code >= 500 {
		e := errorEnvelope(fe.Code, fe.Code, http.StatusText(fe.Code))
		e.cause = fe
		return e
	}
	return errorEnvelope(fe.Code, fe.Code, fe.Message)
}

// validationEnvelope is the 400 of a malformed request: every failing field and why.
func validationEnvelope(fields map[string]string) *ErrorEnvelope {
	e := errorEnvelope(http.StatusBadRequest, http.StatusBadRequest, describeFields(fields))
	e.Data = &ErrorData{Fields: fields}
	return e
}

// describeFields lists every failing field and why, in field order.
func describeFields(fields map[string]string) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + ": " + fields[name]
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// newError replaces huma.NewError, so every error huma makes is the envelope. Huma calls it
// with status 500 and the handler's error when a handler fails (mapped by toEnvelope), with
// 400/422 and error details when the request does not match the schema (answered 400 with every
// field), and with other statuses for its own refusals (413, 415, ...).
func newError(status int, msg string, errs ...error) huma.StatusError {
	var nonNil []error
	for _, err := range errs {
		if err != nil {
			nonNil = append(nonNil, err)
		}
	}
	if len(nonNil) == 1 {
		var env *ErrorEnvelope
		if errors.As(nonNil[0], &env) || status == http.StatusInternalServerError {
			return toEnvelope(nonNil[0])
		}
	}
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		fields := map[string]string{}
		for _, err := range nonNil {
			name, why := fieldOf(err)
			if prev, ok := fields[name]; ok {
				why = prev + "; " + why
			}
			fields[name] = why
		}
		if len(fields) == 0 {
			return errorEnvelope(http.StatusBadRequest, http.StatusBadRequest, msg)
		}
		return validationEnvelope(fields)
	case 0:
		// huma asks for an example error at registration, to document the error schema.
		return errorEnvelope(http.StatusInternalServerError, http.StatusInternalServerError, msg)
	}
	if status >= 500 {
		e := errorEnvelope(status, status, http.StatusText(status))
		e.cause = errors.Join(append([]error{errors.New(msg)}, nonNil...)...)
		return e
	}
	if status == http.StatusUnsupportedMediaType {
		msg = "the body must be application/json"
	}
	return errorEnvelope(status, status, msg)
}

// fieldOf names the field a huma validation error is about, as the client sent it: "password"
// for body.password, "size" for query.size, "lines[0].quantity" for a nested one; a missing
// required property is reported on its own name.
func fieldOf(err error) (name, why string) {
	var d *huma.ErrorDetail
	if !errors.As(err, &d) {
		return "request", err.Error()
	}
	loc, why := d.Location, d.Message
	if _, rest, ok := strings.Cut(why, "expected required property "); ok {
		if prop, _, ok := strings.Cut(rest, " to be present"); ok {
			if loc == "body" {
				loc = ""
			}
			return joinField(trimLocation(loc), prop), "is required"
		}
	}
	if why == "unexpected property" {
		why = "is not a known field"
	}
	name = trimLocation(loc)
	if name == "" {
		name = "body"
	}
	return name, why
}

func trimLocation(loc string) string {
	for _, prefix := range []string{"body.", "query.", "path.", "header.", "cookie."} {
		if strings.HasPrefix(loc, prefix) {
			return loc[len(prefix):]
		}
	}
	return loc
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// retryAfter is the Retry-After header value for a wait, in whole seconds, at least 1.
func retryAfter(seconds float64) string {
	n := int(seconds)
	if float64(n) < seconds {
		n++
	}
	return strconv.Itoa(max(n, 1))
}

func init() {
	huma.NewError = newError
	huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
		return newError(status, msg, errs...)
	}
	// "Email" is not "email": an unknown field, refused like any other.
	huma.ValidateStrictCasing = true
}
