package httpapi

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed docs/index.html docs/init.js docs/swagger-ui.css docs/swagger-ui-bundle.js docs/favicon-32x32.png
var docsFS embed.FS

// readyTimeout bounds each /readyz ping.
const readyTimeout = 2 * time.Second

// Health is the data of /healthz.
type Health struct {
	Status string `json:"status" example:"ok"`
}

// Readiness is the data of /readyz: each dependency and "ok" or why it is not.
type Readiness struct {
	Checks map[string]string `json:"checks"`
}

// registerOperations adds the operations endpoints at the root: /healthz and /readyz (huma
// operations), /metrics (promhttp, documented by hand in the OpenAPI document), /openapi.json
// and the Swagger UI under /docs.
func (s *Server) registerOperations(app *fiber.App, api huma.API, reg *prometheus.Registry) {
	huma.Register(api, op(huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"operations"},
		Summary: "Liveness: the process is up",
	}, public), func(context.Context, *struct{}) (*Response[Health], error) {
		return ok(Health{Status: "ok"}), nil
	})

	huma.Register(api, op(huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"operations"},
		Summary:     "Readiness: orders can settle",
		Description: "200 while the database, the event store and the bus answer and, in any process, a relay publishes and a process manager consumes (checks relay and saga, read from the database); 503 names the checks that failed.",
		Errors:      []int{http.StatusServiceUnavailable},
	}, public), s.readyz)

	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	metricsOp := op(huma.Operation{
		OperationID: "metrics", Method: http.MethodGet, Path: "/metrics", Tags: []string{"operations"},
		Summary:     "Prometheus metrics",
		Description: "The server's HTTP request counts and latencies by route and status, and the metrics of commands, projections and the relay.",
	}, public)
	metricsOp.Responses = map[string]*huma.Response{"200": {
		Description: "Prometheus text exposition format",
		Content:     map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}},
	}}
	api.OpenAPI().AddOperation(&metricsOp)

	var (
		specOnce sync.Once
		spec     []byte
		specErr  error
	)
	app.Get("/openapi.json", func(c *fiber.Ctx) error {
		specOnce.Do(func() { spec, specErr = json.Marshal(api.OpenAPI()) })
		if specErr != nil {
			return specErr
		}
		c.Set(fiber.HeaderContentType, "application/openapi+json")
		return c.Send(spec)
	})

	app.Get("/docs", func(c *fiber.Ctx) error { return serveDoc(c, "index.html") })
	app.Get("/docs/:file", func(c *fiber.Ctx) error { return serveDoc(c, c.Params("file")) })
}

func serveDoc(c *fiber.Ctx, name string) error {
	data, err := fs.ReadFile(docsFS, path.Join("docs", path.Base(name)))
	if err != nil {
		return fiber.ErrNotFound
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(data)
}

// readyz answers 200 with every check "ok", else 503 naming those that failed.
func (s *Server) readyz(ctx context.Context, _ *struct{}) (*Response[Readiness], error) {
	r, notReady := CheckReadiness(ctx, s.ready, s.log)
	if notReady != "" {
		e := errorEnvelope(http.StatusServiceUnavailable, http.StatusServiceUnavailable, notReady)
		e.Data = &ErrorData{Checks: r.Checks}
		return nil, e
	}
	return ok(r), nil
}

// CheckReadiness pings every check at once, each for at most two seconds, and returns each one's
// state ("ok" or "unavailable") and, when any failed, the description of the 503 that names them
// in order ("not ready: bus, database"); notReady is "" when all answered. The API's /readyz and
// the operations listener of a process without the API both answer from it, so probes get the
// same bodies from either. A failed ping is logged at warn, with the request id when ctx has one.
func CheckReadiness(ctx context.Context, checks []Check, log *slog.Logger) (r Readiness, notReady string) {
	results := make(map[string]string, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, check := range checks {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			state := "ok"
			if err := check.Ping(pctx); err != nil {
				attrs := []any{"check", check.Name, "err", err}
				if id := RequestID(ctx); id != "" {
					attrs = append(attrs, "request_id", id)
				}
				log.WarnContext(ctx, "readiness check failed", attrs...)
				state = "unavailable"
			}
			mu.Lock()
			results[check.Name] = state
			mu.Unlock()
		})
	}
	wg.Wait()
	var failed []string
	for name, state := range results {
		if state != "ok" {
			failed = append(failed, name)
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		notReady = "not ready: " + strings.Join(failed, ", ")
	}
	return Readiness{Checks: results}, notReady
}
