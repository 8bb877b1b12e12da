package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
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
