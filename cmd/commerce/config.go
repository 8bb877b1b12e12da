package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/commerce-dev/commerce/httpapi"
)

// config is everything the binary reads from the environment. It is parsed here and nowhere else.
type config struct {
	Env             string
	DatabaseURL     string
	HTTPAddr        string
	EventStore      string
	KurrentDBURL    string
	KafkaBrokers    []string
	LogLevel        slog.Level
	Roles           []string
	SecretUser      string
	SecretSeller    string
	SecretSuper     string
	SecretsFile     string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	CORSOrigins     []string
	RateLimit       float64
	RateBurst       int
	TrustedProxies  []netip.Prefix
	HashConcurrency int
	SnapshotEvery   int
	ShutdownTimeout time.Duration
	RequestTimeout  time.Duration
}

// production reports whether the process runs with ENV=production.
func (c config) production() bool { return c.Env == "production" }

// hasRole reports whether this process runs role.
func (c config) hasRole(role string) bool { return slices.Contains(c.Roles, role) }

// allRoles are the parts one process runs by default; ROLES splits them across processes.
var allRoles = []string{"api", "projector", "relay", "saga"}

// envVar is one setting: its name, default, meaning, and how it is parsed into config.
type envVar struct {
	name  string
	def   string
	usage string
	parse func(c *config, v string) error
}

var envVars = []envVar{
	{"ENV", "development", "development or production; production refuses development secrets", func(c *config, v string) error {
		if v != "development" && v != "production" {
			return errors.New("must be development or production")
		}
		c.Env = v
		return nil
	}},
	{"DATABASE_URL", "", "PostgreSQL URL (required), e.g. postgres://user@127.0.0.1:5432/db?sslmode=disable; pool_max_conns=N in it sizes the pool (default 16)", func(c *config, v string) error {
		if v == "" {
			return errors.New("is required (make db prints one)")
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return errors.New("must be a postgres:// URL")
		}
		c.DatabaseURL = v
		return nil
	}},
	{"HTTP_ADDR", ":8080", "address the HTTP server listens on", func(c *config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("must be host:port: %w", err)
		}
		c.HTTPAddr = v
		return nil
	}},
	{"EVENTSTORE", "postgres", "event store adapter: postgres or kurrentdb", func(c *config, v string) error {
		if v != "postgres" && v != "kurrentdb" {
			return errors.New("must be postgres or kurrentdb")
		}
		c.EventStore = v
		return nil
	}},
	{"KURRENTDB_URL", "", "KurrentDB connection string (required when EVENTSTORE=kurrentdb), e.g. esdb://127.0.0.1:2113?tls=false", func(c *config, v string) error {
		c.KurrentDBURL = v
		return nil
	}},
	{"KAFKA_BROKERS", "", "comma-separated Kafka brokers; empty: the in-process bus", func(c *config, v string) error {
		c.KafkaBrokers = splitList(v)
		return nil
	}},
	{"LOG_LEVEL", "info", "debug, info, warn or error", func(c *config, v string) error {
		return c.LogLevel.UnmarshalText([]byte(v))
	}},
	{"ROLES", strings.Join(allRoles, ","), "what this process runs: any of api, projector, relay, saga", func(c *config, v string) error {
		c.Roles = splitList(v)
		if len(c.Roles) == 0 {
			return errors.New("must name at least one role")
		}
		for _, r := range c.Roles {
			if !slices.Contains(allRoles, r) {
				return fmt.Errorf("unknown role %q (want any of %s)", r, strings.Join(allRoles, ", "))
			}
		}
		return nil
	}},
	{"JWT_SECRET_USER", "", "HS256 secret for USER tokens (development: generated into SECRETS_FILE)", func(c *config, v string) error { c.SecretUser = v; return nil }},
	{"JWT_SECRET_SELLER", "", "HS256 secret for SELLER tokens (development: generated)", func(c *config, v string) error { c.SecretSeller = v; return nil }},
	{"JWT_SECRET_SUPERVISOR", "", "HS256 secret for SUPERVISOR tokens (development: generated)", func(c *config, v string) error { c.SecretSuper = v; return nil }},
	{"SECRETS_FILE", ".data/dev-secrets.json", "development only: where missing JWT secrets are generated and kept", func(c *config, v string) error { c.SecretsFile = v; return nil }},
	{"ACCESS_TOKEN_TTL", "1h", "access token lifetime", durationVar(func(c *config) *time.Duration { return &c.AccessTTL })},
	{"REFRESH_TOKEN_TTL", "12h", "refresh token lifetime", durationVar(func(c *config) *time.Duration { return &c.RefreshTTL })},
	{"CORS_ORIGINS", "", "comma-separated origins allowed by CORS; empty: none", func(c *config, v string) error {
		c.CORSOrigins = splitList(v)
		return nil
	}},
	{"RATE_LIMIT", "20", "login, refresh and sign-up requests per second per client address", func(c *config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return errors.New("must be a positive number")
		}
		c.RateLimit = f
		return nil
	}},
	{"RATE_BURST", "40", "burst allowed above RATE_LIMIT", intVar(1, 1_000_000, func(c *config) *int { return &c.RateBurst })},
	{"TRUSTED_PROXIES", "", "comma-separated reverse proxy addresses or CIDRs; the client is the right-most X-Forwarded-For address not in it (empty: the peer)", func(c *config, v string) error {
		p, err := httpapi.ParseTrustedProxies(splitList(v))
		c.TrustedProxies = p
		return err
	}},
	{"PASSWORD_HASH_CONCURRENCY", "0", "argon2id hashes at once, process-wide (0: the number of cores); past it 503 after 1 s", intVar(0, 1024, func(c *config) *int { return &c.HashConcurrency })},
	{"SNAPSHOT_EVERY", "100", "events between product snapshots, at least (a product with open reservations waits for an eighth of them too)", intVar(1, 1_000_000, func(c *config) *int { return &c.SnapshotEvery })},
	{"REQUEST_TIMEOUT", "5s", "every request's deadline (plus its ?wait); past it 503 with Retry-After", durationVar(func(c *config) *time.Duration { return &c.RequestTimeout })},
	{"SHUTDOWN_TIMEOUT", "20s", "how long shutdown waits for requests and workers to drain", durationVar(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
}

func durationVar(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("must be a positive duration such as 30s or 1h")
		}
		*field(c) = d
		return nil
	}
}

func intVar(lo, hi int, field func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be an integer from %d to %d", lo, hi)
		}
		*field(c) = n
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// loadConfig reads every variable, applying defaults, and returns all problems at once, each
// naming its variable.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	for _, e := range envVars {
		v := getenv(e.name)
		if v == "" {
			v = e.def
		}
		if err := e.parse(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", e.name, v, err))
		}
	}
	if c.EventStore == "kurrentdb" && c.KurrentDBURL == "" {
		errs = append(errs, errors.New("KURRENTDB_URL: is required when EVENTSTORE=kurrentdb"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("configuration:\n%w", err)
	}
	return c, nil
}

// printEnvHelp lists every variable with its default and meaning.
func printEnvHelp(w *os.File) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, e := range envVars {
		def := e.def
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.name, def, e.usage)
	}
	tw.Flush()
}
