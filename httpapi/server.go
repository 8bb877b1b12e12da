package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/readmodels"
)

// bodyLimit is the largest request body of the API contract: larger is 413.
const bodyLimit = 1 << 20

// Config is the server's configuration; zero fields take the defaults below.
type Config struct {
	// CORSOrigins are the origins allowed to call the API from a browser; empty disables CORS.
	CORSOrigins []string
	// RateLimit is the sustained rate of login, refresh and sign-up requests per client address,
	// per second (default 20).
	RateLimit float64
	// RateBurst is the burst of those requests per client address (default 40).
	RateBurst int
	// ReadTimeout bounds reading a request (default 10 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (default 30 s).
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 60 s).
	IdleTimeout time.Duration
	// RateLimitClients bounds the rate-limit buckets kept (default 100,000); past it the least
	// recently seen client's bucket is dropped.
	RateLimitClients int
	// ProxyHeader is the header in which proxies list the addresses they forward for (default
	// X-Forwarded-For). It is used only with TrustedProxies, and believed only from them.
	ProxyHeader string
	// TrustedProxies are the reverse proxies in front of the server (ParseTrustedProxies). The
	// client is the right-most address of ProxyHeader that is not one of them; with none the
	// client is the peer address, so that a client cannot pick its rate-limit bucket.
	TrustedProxies []netip.Prefix
	// MinPositionWait bounds how long a query with ?min_position waits for its read model before
	// it answers 503 (default 2 s, as the API contract says).
	MinPositionWait time.Duration
	// RequestTimeout is every request's deadline, plus its ?wait (default 5 s); past it the
	// request stops and answers 503 with Retry-After.
	RequestTimeout time.Duration
	// LiveHeartbeat is how often an idle live stream sends a comment (default 15 s).
	LiveHeartbeat time.Duration
	// LiveStreamsPerAccount bounds the live streams one account holds open (default 5); past it, 429.
	LiveStreamsPerAccount int
}

func (c Config) withDefaults() Config {
	if c.RateLimit == 0 {
		c.RateLimit = 20
	}
	if c.RateBurst == 0 {
		c.RateBurst = 40
	}
	if c.RateLimitClients == 0 {
		c.RateLimitClients = 100_000
	}
	if c.ProxyHeader == "" {
		c.ProxyHeader = fiber.HeaderXForwardedFor
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MinPositionWait == 0 {
		c.MinPositionWait = 2 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	c.LiveHeartbeat = cmp.Or(c.LiveHeartbeat, 15*time.Second)
	c.LiveStreamsPerAccount = cmp.Or(c.LiveStreamsPerAccount, 5)
	return c
}

// Check is a dependency /readyz pings: the database, the event store, the bus.
type Check struct {
	// Name names the dependency in the answer.
	Name string
	// Ping returns nil when the dependency answers.
	Ping func(ctx context.Context) error
}

// Deps is what the server needs; cmd/commerce builds it. Route groups add their dependencies
// (command handlers, read models) here.
type Deps struct {
	// Log receives the access log and every 500's cause; nil discards.
	Log *slog.Logger
	// Auth keeps accounts and checks tokens.
	Auth *auth.Service
	// Ready are pinged by /readyz.
	Ready []Check
	// Metrics is the registry /metrics serves. The server registers its HTTP metrics on it;
	// others register theirs (commands, projections, relay). Nil: a new registry with the Go
	// and process collectors.
	Metrics *prometheus.Registry
	// Config configures CORS, rate limits and timeouts.
	Config Config

	// Commands are the write side's command handlers (commands.NewHandlers).
	Commands *commands.Handlers
	// Idempotency runs POST /orders once per account and Idempotency-Key
	// (commands.NewIdempotency).
	Idempotency *commands.Idempotency
	// Reader queries the read models (readmodels.New).
	Reader *readmodels.Reader
	// Positions waits for a read model to reach an event position, for ?min_position
	// (*projections.Runner). Projectors are named by their base names: catalog, orders, reviews.
	Positions Positions
	// Orders waits for a placed order to be settled, for POST /orders?wait (the fulfilment
	// process manager).
	Orders OrderSettler
	// Projections lists and rebuilds the projections for /admin/projections (an adapter over
	// *projections.Runner).
	Projections ProjectionAdmin
	// Store is the event store /admin/streams/{stream_id} reads.
	Store eventstore.Store
	// Tracing, when set, makes a span of every API request, continuing the caller's traceparent;
	// commands and their events carry it on. Nil: no spans (tracing is off).
	Tracing trace.TracerProvider
	// Live is the global log the live-update streams follow; nil follows Store.
	Live LogSource
}

// Server holds the dependencies the handlers use. Handlers are its methods.
type Server struct {
	log     *slog.Logger
	auth    *auth.Service
	ready   []Check
	cfg     Config
	api     huma.API
	limit   *limiter
	metrics *httpMetrics

	// passwords limits password changes per account.
	passwords *limiter

	commands    *commands.Handlers
	idempotency *commands.Idempotency
	reader      *readmodels.Reader
	positions   Positions
	orders      OrderSettler
	projections ProjectionAdmin
	store       eventstore.Store
	live        LogSource
	hub         *liveHub
	liveLimits  *liveLimits
}

// New returns the fiber app serving every route of the API under /api/v1 and the operations
// endpoints at the root.
func New(deps Deps) *fiber.App {
	app, _ := build(deps)
	return app
}

func build(deps Deps) (*fiber.App, *Server) {
	cfg := deps.Config.withDefaults()
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := deps.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		log:     log,
		auth:    deps.Auth,
		ready:   deps.Ready,
		cfg:     cfg,
		limit:   newLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst, cfg.RateLimitClients),
		metrics: newHTTPMetrics(reg),

		// 5 password changes per account, then one a minute.
		passwords: newLimiter(rate.Every(time.Minute), 5, cfg.RateLimitClients),

		commands:    deps.Commands,
		idempotency: deps.Idempotency,
		reader:      deps.Reader,
		positions:   deps.Positions,
		orders:      deps.Orders,
		projections: deps.Projections,
		store:       deps.Store,
		live:        cmp.Or[LogSource](deps.Live, deps.Store),
		liveLimits:  &liveLimits{max: cfg.LiveStreamsPerAccount, open: map[uuid.UUID]int{}},
	}
	s.hub = newLiveHub(s.live, log)
	app := fiber.New(fiber.Config{
		AppName:               "commerce",
		BodyLimit:             bodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ErrorHandler:          s.handleError,
		Immutable:             true,
		DisableStartupMessage: true,
	})
	app.Server().ErrorHandler = lingerOnTooLarge(app.Server().ErrorHandler)
	if deps.Tracing != nil {
		app.Use(otelfiber.Middleware(otelfiber.WithTracerProvider(deps.Tracing),
			otelfiber.WithNext(func(c *fiber.Ctx) bool { return !strings.HasPrefix(c.Path(), "/api/") })))
	}
	app.Use(requestID, s.observe, recoverPanic, checkText, s.deadline)
	if len(cfg.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(cfg.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PUT,PATCH,DELETE,OPTIONS",
			AllowHeaders:  "Authorization,Content-Type,Idempotency-Key,X-Request-ID",
			ExposeHeaders: "Location,Retry-After,X-Request-ID,X-Event-Position",
			MaxAge:        600,
		}))
	}

	hc := humaConfig()
	hc.Transformers = append(hc.Transformers, s.finishHumaErrors)
	s.api = humafiber.New(app, hc)
	s.api.UseMiddleware(s.authenticate)
	s.registerOperations(app, s.api, reg)
	s.routes(huma.NewGroup(s.api, "/api/v1"))
	s.registerLive(app, s.api, reg)
	s.registerConsole(app, s.api)
	return app, s
}

// routes registers every route group under /api/v1: one line per group.
func (s *Server) routes(api huma.API) {
	for _, register := range []func(huma.API){
		s.registerAuth,
		s.registerUsers,
		s.registerAddresses,
		s.registerSellers,
		s.registerAdminUsers,
		s.registerCatalog,
		s.registerProducts,
		s.registerOrders,
		s.registerSellerLines,
		s.registerReviews,
		s.registerAdmin,
	} {
		register(api)
	}
}

func humaConfig() huma.Config {
	c := huma.DefaultConfig("commerce", "1.0.0")
	// /openapi.json and /docs are served by registerOperations (Swagger UI from the binary);
	// no $schema links in bodies.
	c.OpenAPIPath, c.DocsPath, c.SchemasPath = "", "", ""
	c.CreateHooks = nil
	c.Info.Description = "The commerce shop's API. Every response body is the envelope " +
		"{result, data, pagination}. Token errors answer 401 with result_code 4000 (no token), " +
		"4001 (bad signature), 4002 (expired or logged out), 4003 (malformed), 4004 (no subject), " +
		"and 403 with 4005 (role not allowed). A SUPERVISOR may call every route."
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityScheme: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "An access token from POST /api/v1/auth/login."},
	}
	c.OnAddOperation = append(c.OnAddOperation, checkOperation)
	return c
}
