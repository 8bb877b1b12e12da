package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/commerce-dev/commerce/httpapi"
)

// config is everything the binary reads from the environment. It is parsed here and nowhere else:
// caarlos0/env reads the variables named by the env tags (with their envDefault), validate checks
// what the types cannot say, and the help tag is what `commerce serve --help` prints. A variable
// tagged secret is never echoed: an error names it without its value, and its value is masked in
// every message the process prints (redactor).
type config struct {
	Env                 string        `env:"ENV" envDefault:"development" help:"development or production; production refuses development secrets"`
	DatabaseURL         string        `env:"DATABASE_URL" secret:"url" help:"PostgreSQL URL (required), e.g. postgres://user@127.0.0.1:5432/db?sslmode=disable; pool_max_conns=N in it sizes the pool (default 16)"`
	HTTPAddr            string        `env:"HTTP_ADDR" envDefault:":8080" help:"address the HTTP API listens on (role api)"`
	MetricsAddr         string        `env:"METRICS_ADDR" help:"address of the operations listener (/healthz, /readyz, /metrics); default: the HTTP API's listener with role api, else :9090"`
	EventStore          string        `env:"EVENTSTORE" envDefault:"postgres" help:"event store adapter: postgres or kurrentdb"`
	KurrentDBURL        string        `env:"KURRENTDB_URL" secret:"url" help:"KurrentDB connection string (required when EVENTSTORE=kurrentdb), e.g. esdb://127.0.0.1:2113?tls=false"`
	KafkaBrokers        []string      `env:"KAFKA_BROKERS" help:"comma-separated Kafka brokers; empty: the in-process bus, which needs roles relay and saga in one process"`
	KafkaSessionTimeout time.Duration `env:"KAFKA_SESSION_TIMEOUT" envDefault:"6s" help:"how long Kafka waits for a saga process that stopped answering before it gives its partitions to the others (6s is Kafka's smallest by default)"`
	TakeoverAfter       time.Duration `env:"SAGA_TAKEOVER_AFTER" envDefault:"1s" help:"role api with Kafka: an order still PENDING this long after it was placed is settled by this process (0: never)"`
	LogLevel            slog.Level    `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	Roles               []string      `env:"ROLES" envDefault:"api,projector,relay,saga" help:"what this process runs: any of api, projector, relay, saga"`
	SecretUser          string        `env:"JWT_SECRET_USER" secret:"value" help:"HS256 secret for USER tokens (development: generated into SECRETS_FILE)"`
	SecretSeller        string        `env:"JWT_SECRET_SELLER" secret:"value" help:"HS256 secret for SELLER tokens (development: generated)"`
	SecretSuper         string        `env:"JWT_SECRET_SUPERVISOR" secret:"value" help:"HS256 secret for SUPERVISOR tokens (development: generated)"`
	SecretsFile         string        `env:"SECRETS_FILE" envDefault:".data/dev-secrets.json" help:"development only: where missing JWT secrets are generated and kept"`
	AccessTTL           time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"1h" help:"access token lifetime"`
	RefreshTTL          time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"12h" help:"refresh token lifetime"`
	CORSOrigins         []string      `env:"CORS_ORIGINS" help:"comma-separated origins allowed by CORS; empty: none"`
	RateLimit           float64       `env:"RATE_LIMIT" envDefault:"20" help:"login, refresh and sign-up requests per second per client address"`
	RateBurst           int           `env:"RATE_BURST" envDefault:"40" help:"burst allowed above RATE_LIMIT"`
	SnapshotEvery       int           `env:"SNAPSHOT_EVERY" envDefault:"100" help:"events between product snapshots, at least (a product with open reservations waits for an eighth of them too)"`
	TrustedProxyList    []string      `env:"TRUSTED_PROXIES" help:"comma-separated reverse proxy addresses or CIDRs; the client is the right-most X-Forwarded-For address not in it (empty: the peer)"`
	HashConcurrency     int           `env:"PASSWORD_HASH_CONCURRENCY" envDefault:"0" help:"argon2id hashes at once, process-wide (0: the number of cores); past it 503 after 1 s"`
	RequestTimeout      time.Duration `env:"REQUEST_TIMEOUT" envDefault:"5s" help:"every request's deadline (plus its ?wait); past it 503 with Retry-After"`
	ShutdownTimeout     time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s" help:"how long shutdown waits for requests and workers to drain"`

	// TrustedProxies is TRUSTED_PROXIES parsed by validate.
	TrustedProxies []netip.Prefix
}

// production reports whether the process runs with ENV=production.
func (c config) production() bool { return c.Env == "production" }

// hasRole reports whether this process runs role.
func (c config) hasRole(role string) bool { return slices.Contains(c.Roles, role) }

// opsAddr is where this process answers /healthz, /readyz and /metrics: METRICS_ADDR when set,
// else the HTTP API's address when the process serves it, else :9090.
func (c config) opsAddr() string {
	switch {
	case c.MetricsAddr != "":
		return c.MetricsAddr
	case c.hasRole("api"):
		return c.HTTPAddr
	default:
		return ":9090"
	}
}

// allRoles are the parts one process runs by default; ROLES splits them across processes.
var allRoles = []string{"api", "projector", "relay", "saga"}

// envField is one variable of config as its tags describe it.
type envField struct {
	name, def, help, secret string
	field                   string
}

// envFields lists config's variables in declaration order.
var envFields = func() []envField {
	t := reflect.TypeFor[config]()
	out := make([]envField, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		out = append(out, envField{name: name, def: f.Tag.Get("envDefault"), help: f.Tag.Get("help"), secret: f.Tag.Get("secret"), field: f.Name})
	}
	return out
}()

// loadOptions say what a command needs of the configuration.
type loadOptions struct {
	// probe is for commands that only ask a running process (healthcheck): DATABASE_URL may be
	// empty and ROLES need not settle orders by themselves.
	probe bool
}

// loadConfig reads every variable through getenv, applying defaults, and returns all problems at
// once, each naming its variable; the value of a secret variable is never shown.
func loadConfig(getenv func(string) string, opts ...loadOptions) (config, error) {
	var o loadOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	environ := make(map[string]string, len(envFields))
	for _, f := range envFields {
		if v := getenv(f.name); v != "" {
			environ[f.name] = v
		}
	}
	var c config
	var errs []error
	unparsed := make(map[string]bool) // variables already reported: validate leaves them out
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			return c, fmt.Errorf("configuration: %w", err)
		}
		for _, e := range agg.Errors {
			name, err := describeParseError(e, environ)
			unparsed[name] = true
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validate(environ, unparsed, o)...)
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("configuration:\n%w", err)
	}
	return c, nil
}

// describeParseError names the variable of a value caarlos0/env could not parse, and what it wants,
// without its cause's text, which may quote the value. It returns the variable's name too.
func describeParseError(err error, environ map[string]string) (string, error) {
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return "", err
	}
	for _, f := range envFields {
		if f.field != pe.Name {
			continue
		}
		want := "a value of type " + pe.Type.String()
		switch pe.Type {
		case reflect.TypeFor[time.Duration]():
			want = "a duration such as 500ms, 30s or 1h"
		case reflect.TypeFor[slog.Level]():
			want = "debug, info, warn or error"
		case reflect.TypeFor[int](), reflect.TypeFor[float64]():
			want = "a number"
		}
		return f.name, fmt.Errorf("%s=%s: must be %s", f.name, shown(f, environ[f.name]), want)
	}
	return "", err
}

// validate checks what the types do not: ranges, choices, addresses, and roles that can settle
// orders. The variables in unparsed were reported already.
func (c *config) validate(environ map[string]string, unparsed map[string]bool, o loadOptions) []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		if unparsed[name] {
			return
		}
		for _, f := range envFields {
			if f.name == name {
				errs = append(errs, fmt.Errorf("%s=%s: %s", name, shown(f, environ[name]), fmt.Sprintf(format, args...)))
				return
			}
		}
	}
	if c.Env != "development" && c.Env != "production" {
		bad("ENV", "must be development or production")
	}
	if c.DatabaseURL == "" {
		if !o.probe {
			errs = append(errs, errors.New("DATABASE_URL: is required (make db prints one)"))
		}
	} else if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", "must be a postgres:// URL")
	}
	for _, v := range []struct{ name, addr string }{{"HTTP_ADDR", c.HTTPAddr}, {"METRICS_ADDR", c.MetricsAddr}} {
		if _, _, err := net.SplitHostPort(v.addr); v.addr != "" && err != nil {
			bad(v.name, "must be host:port or :port")
		}
	}
	if c.EventStore != "postgres" && c.EventStore != "kurrentdb" {
		bad("EVENTSTORE", "must be postgres or kurrentdb")
	}
	if c.EventStore == "kurrentdb" && c.KurrentDBURL == "" {
		errs = append(errs, errors.New("KURRENTDB_URL: is required when EVENTSTORE=kurrentdb"))
	}
	c.KafkaBrokers, c.Roles, c.CORSOrigins = trimList(c.KafkaBrokers), trimList(c.Roles), trimList(c.CORSOrigins)
	if len(c.Roles) == 0 {
		bad("ROLES", "must name at least one role")
	}
	for _, r := range c.Roles {
		if !slices.Contains(allRoles, r) {
			bad("ROLES", "unknown role %q (want any of %s)", r, strings.Join(allRoles, ", "))
		}
	}
	// Without a broker the relay hands events to the process manager inside its own process:
	// one without the other would leave every order PENDING.
	if !o.probe && len(c.KafkaBrokers) == 0 && c.hasRole("relay") != c.hasRole("saga") {
		bad("ROLES", "roles relay and saga in different processes need KAFKA_BROKERS: without a broker the relay hands order events only to a saga in its own process, so orders would stay PENDING")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		zero bool
	}{
		{"KAFKA_SESSION_TIMEOUT", c.KafkaSessionTimeout, false}, {"SAGA_TAKEOVER_AFTER", c.TakeoverAfter, true},
		{"REQUEST_TIMEOUT", c.RequestTimeout, false}, {"ACCESS_TOKEN_TTL", c.AccessTTL, false}, {"REFRESH_TOKEN_TTL", c.RefreshTTL, false}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout, false},
	} {
		if d.v < 0 || (d.v == 0 && !d.zero) {
			bad(d.name, "must be a positive duration such as 30s or 1h")
		}
	}
	if c.RateLimit <= 0 {
		bad("RATE_LIMIT", "must be a positive number")
	}
	if c.RateBurst < 1 || c.RateBurst > 1_000_000 {
		bad("RATE_BURST", "must be an integer from 1 to 1000000")
	}
	if p, err := httpapi.ParseTrustedProxies(trimList(c.TrustedProxyList)); err != nil {
		bad("TRUSTED_PROXIES", "%v", err)
	} else {
		c.TrustedProxies = p
	}
	if c.HashConcurrency < 0 || c.HashConcurrency > 1024 {
		bad("PASSWORD_HASH_CONCURRENCY", "must be an integer from 0 to 1024")
	}
	if c.SnapshotEvery < 1 || c.SnapshotEvery > 1_000_000 {
		bad("SNAPSHOT_EVERY", "must be an integer from 1 to 1000000")
	}
	return errs
}

// shown is how a variable's value appears in a message: quoted, or, for a secret, masked.
func shown(f envField, v string) string {
	switch f.secret {
	case "":
		return fmt.Sprintf("%q", v)
	case "url":
		if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
			return fmt.Sprintf("%q", u.Redacted())
		}
	}
	return "(hidden)"
}

func trimList(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// secrets are the values redactor masks: the secret variables, and the password of each URL.
func (c config) secrets() []string {
	var out []string
	for _, s := range []string{c.SecretUser, c.SecretSeller, c.SecretSuper} {
		if s != "" {
			out = append(out, s)
		}
	}
	for _, raw := range []string{c.DatabaseURL, c.KurrentDBURL} {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				out = append(out, p, url.QueryEscape(p))
			}
		}
	}
	return out
}

// redactor masks the given secrets in any text.
func redactor(secrets []string) *strings.Replacer {
	var pairs []string
	for _, s := range secrets {
		pairs = append(pairs, s, "***")
	}
	return strings.NewReplacer(pairs...)
}

// printEnvHelp lists every variable with its default and meaning.
func printEnvHelp(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, f := range envFields {
		def := f.def
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.name, def, f.help)
	}
	tw.Flush()
}
