package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

type requestIDKey struct{}

// requestID takes the client's X-Request-ID when it is a sane token (1-128 visible ASCII
// characters) or makes one, keeps it for logs and handlers, and sends it back.
func requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Locals(requestIDKey{}, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// RequestID returns the request id of a handler's context: the correlation id for commands.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// panicError is a recovered panic, answered 500 and logged with its stack.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.value, p.stack) }

// recoverPanic turns a panic below it into an error for the error handler.
func recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok && errors.Is(e, http.ErrAbortHandler) {
				panic(r)
			}
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return c.Next()
}

// handleError is fiber's ErrorHandler: errors that reach fiber (no route, 405, a body over the
// limit, a panic) are answered in the envelope, and a 500 is logged here.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	e := toEnvelope(err)
	if e.cause != nil || e.status == http.StatusInternalServerError {
		id, _ := c.Locals(requestIDKey{}).(string)
		s.logServerError(c.UserContext(), id, c.Method(), c.Path(), e)
	}
	for name, values := range e.headers {
		for _, v := range values {
			c.Append(name, v)
		}
	}
	if c.Get(fiber.HeaderXRequestID) == "" && len(c.Response().Header.Peek(fiber.HeaderXRequestID)) == 0 {
		c.Set(fiber.HeaderXRequestID, uuid.NewString())
	}
	return c.Status(e.status).JSON(e)
}

// logServerError logs a 5xx answer with its cause: the one place a failure is logged.
func (s *Server) logServerError(ctx context.Context, requestID, method, path string, e *ErrorEnvelope) {
	cause := e.cause
	if cause == nil {
		cause = errors.New(e.Result.ResultDescription)
	}
	s.log.LogAttrs(ctx, slog.LevelError, "request failed",
		slog.String("request_id", requestID), slog.String("method", method), slog.String("path", path),
		slog.Int("status", e.status), slog.String("err", cause.Error()))
}

// finishHumaErrors is a huma transformer: it sees every body huma writes, before the body is
// written, so it sends an error's headers (Retry-After, WWW-Authenticate; huma itself sends only
// those of the error a handler returned, not of the envelope the error maps to) and logs a 500
// once.
func (s *Server) finishHumaErrors(ctx huma.Context, _ string, v any) (any, error) {
	e, ok := v.(*ErrorEnvelope)
	if !ok {
		return v, nil
	}
	for name, values := range e.headers {
		for i, value := range values {
			if i == 0 {
				ctx.SetHeader(name, value)
			} else {
				ctx.AppendHeader(name, value)
			}
		}
	}
	if e.cause != nil || e.status == http.StatusInternalServerError {
		c := humafiber.Unwrap(ctx)
		id, _ := c.Locals(requestIDKey{}).(string)
		s.logServerError(ctx.Context(), id, c.Method(), c.Path(), e)
	}
	return v, nil
}

// httpMetrics are the server's own Prometheus metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	labels := []string{"method", "route", "status"}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests answered, by method, route template and status.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency, by method, route template and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, labels),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	return m
}

// register registers c, or returns the collector already registered under its name (a second
// server on the same registry, as in tests).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("httpapi: register metrics: %v", err))
	}
	return c
}

// observe records the metrics and the access log line of every request. It answers errors
// from below itself, so that it sees the final status.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	route := routeLabel(c, status)
	elapsed := time.Since(start)
	code := strconv.Itoa(status)
	s.metrics.requests.WithLabelValues(c.Method(), route, code).Inc()
	s.metrics.duration.WithLabelValues(c.Method(), route, code).Observe(elapsed.Seconds())
	id, _ := c.Locals(requestIDKey{}).(string)
	s.log.LogAttrs(c.UserContext(), slog.LevelInfo, "http",
		slog.String("request_id", id), slog.String("method", c.Method()), slog.String("path", c.Path()),
		slog.String("route", route), slog.Int("status", status), slog.Duration("duration", elapsed),
		slog.String("client", s.client(c).String()))
	return nil
}

// routeLabel is the matched route template (/api/v1/users/:id), or "unmatched", so that the
// metrics' cardinality stays bounded whatever paths clients send.
func routeLabel(c *fiber.Ctx, status int) string {
	r := c.Route()
	if r == nil || r.Method == "USE" || (status == http.StatusNotFound && r.Path == "/") {
		return "unmatched"
	}
	return r.Path
}
