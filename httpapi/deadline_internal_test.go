package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDeadline: every request's context ends RequestTimeout after it arrived, plus its ?wait
// (at most the longest wait); a wait that does not parse adds nothing.
func TestDeadline(t *testing.T) {
	s := &Server{cfg: Config{RequestTimeout: time.Second}}
	app := fiber.New()
	app.Use(s.deadline)
	app.Get("/left", func(c *fiber.Ctx) error {
		d, ok := c.UserContext().Deadline()
		if !ok {
			return c.SendString("none")
		}
		return c.SendString(strconv.FormatInt(time.Until(d).Milliseconds(), 10))
	})
	for _, tt := range []struct {
		query    string
		min, max time.Duration
	}{
		{"", 500 * time.Millisecond, time.Second},
		{"?wait=2s", 2500 * time.Millisecond, 3 * time.Second},
		{"?wait=1h", maxOrderWait + 500*time.Millisecond, maxOrderWait + time.Second},
		{"?wait=soon", 500 * time.Millisecond, time.Second},
	} {
		resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/left"+tt.query, nil), -1)
		if err != nil {
			t.Fatalf("GET /left%s: %v", tt.query, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ms, err := strconv.Atoi(string(body))
		if left := time.Duration(ms) * time.Millisecond; err != nil || left < tt.min || left > tt.max {
			t.Errorf("GET /left%s: deadline in %s ms, want %s to %s", tt.query, body, tt.min, tt.max)
		}
	}
}

// TestUnavailableIs503: a passed deadline and a lost database connection answer 503 with
// Retry-After; a database's refusal of the statement itself does not.
func TestUnavailableIs503(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"deadline", fmt.Errorf("claim idempotency key: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"connection refused", fmt.Errorf("append: %w", &pgconn.ConnectError{}), http.StatusServiceUnavailable},
		{"connection reset", fmt.Errorf("find address: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}), http.StatusServiceUnavailable},
		{"server shutting down", fmt.Errorf("find address: %w", &pgconn.PgError{Code: "57P01"}), http.StatusServiceUnavailable},
		{"connection exception", fmt.Errorf("find address: %w", &pgconn.PgError{Code: "08006"}), http.StatusServiceUnavailable},
		{"unexpected EOF", fmt.Errorf("find address: %w", io.ErrUnexpectedEOF), http.StatusServiceUnavailable},
		{"connection closed after a failure", fmt.Errorf("claim idempotency key: set statement_timeout: %w", pgconn.ErrConnClosed), http.StatusServiceUnavailable},
		{"unique violation", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), http.StatusInternalServerError},
		{"anything else", errors.New("boom"), http.StatusInternalServerError},
	} {
		e := toEnvelope(tt.err)
		retry := e.headers.Get("Retry-After")
		if e.status != tt.want || (tt.want == http.StatusServiceUnavailable) != (retry != "") {
			t.Errorf("%s: toEnvelope(%v) = %d, Retry-After %q; want %d, with Retry-After only for 503", tt.name, tt.err, e.status, retry, tt.want)
		}
	}
}
