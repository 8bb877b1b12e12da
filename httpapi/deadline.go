package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
)

// deadline gives every request's context a deadline, Config.RequestTimeout after it arrived plus
// the ?wait it asks for (POST /orders?wait), so that a database that stops answering costs a
// client a bounded wait: every database call, pool acquire and poll below runs on this context,
// and stops with it. A request that ran out of time answers 503 with Retry-After (see
// pastDeadline); the client may retry, with the same Idempotency-Key for an order.
func (s *Server) deadline(c *fiber.Ctx) error {
	d := s.cfg.RequestTimeout
	if w, err := time.ParseDuration(c.Query("wait")); err == nil && w > 0 {
		d += min(w, maxOrderWait)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), d)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// pastDeadline is the answer to a request whose deadline passed before its work was done: 503,
// try again in a second.
func pastDeadline(err error) *ErrorEnvelope {
	e := errorEnvelope(http.StatusServiceUnavailable, http.StatusServiceUnavailable, "the request ran out of time; try again")
	e.headers = http.Header{"Retry-After": {"1"}}
	e.cause = err
	return e
}

// unreachable is the answer to a request whose database connection could not be made or was
// lost (refused, reset, the server shutting down): 503, try again in a second, as for a deadline.
// The cause is logged: it says which.
func unreachable(err error) *ErrorEnvelope {
	e := errorEnvelope(http.StatusServiceUnavailable, http.StatusServiceUnavailable, "a service this request needs did not answer; try again")
	e.headers = http.Header{"Retry-After": {"1"}}
	e.cause = err
	return e
}

// connectionLost reports whether err is a connection that could not be made or broke: a
// connect error, a network error, a connection the driver closed after an earlier failure on it,
// or PostgreSQL's connection exception (08) and operator intervention (57P: shutting down,
// terminating connections, not yet accepting them) classes.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}
