package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/logtest"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// testSecrets are the per-role secrets of the test servers; tests forge tokens with them.
var testSecrets = auth.Secrets{
	User:       "user-secret-for-tests-0123456789abcdef",
	Seller:     "seller-secret-for-tests-0123456789abcdef",
	Supervisor: "supervisor-secret-for-tests-0123456789abcdef",
}

// cheapArgon2 keeps password hashing fast under the race detector.
var cheapArgon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// env is a server on a fresh database.
type env struct {
	t    testing.TB
	app  *fiber.App
	svc  *auth.Service
	pool *pgxpool.Pool
	logs *logBuffer
}

type envOption func(*httpapi.Deps, *auth.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	pool := pgtest.New(t)
	return newEnvOn(t, pool, opts...)
}

// newEnvOn starts another server (another process, as far as caches go) on pool.
func newEnvOn(t testing.TB, pool *pgxpool.Pool, opts ...envOption) *env {
	t.Helper()
	logs := &logBuffer{}
	deps := httpapi.Deps{Log: slog.New(slog.NewJSONHandler(logs, nil))}
	// Tests sign up and log in far faster than people; TestRateLimit sets real limits.
	deps.Config.RateLimit, deps.Config.RateBurst = 1e6, 1e6
	cfg := auth.Config{Secrets: testSecrets, Argon2: cheapArgon2}
	for _, o := range opts {
		o(&deps, &cfg)
	}
	svc, err := auth.New(pool, cfg)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	deps.Auth = svc
	return &env{t: t, app: httpapi.New(deps), svc: svc, pool: pool, logs: logs}
}

// logBuffer collects the server's JSON log lines.
type logBuffer struct{ logtest.Buffer }

// lines returns the decoded log lines whose msg is msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// envelope is a decoded response body.
type envelope struct {
	Result struct {
		Code        int    `json:"result_code"`
		Message     string `json:"result_message"`
		Description string `json:"result_description"`
	} `json:"result"`
	Data       json.RawMessage `json:"data"`
	Pagination *struct {
		Page            int   `json:"page"`
		Size            int   `json:"size"`
		CurrentElements int   `json:"current_elements"`
		TotalElements   int64 `json:"total_elements"`
		TotalPage       int64 `json:"total_page"`
	} `json:"pagination"`
}

type response struct {
	status int
	header http.Header
	body   []byte
	env    envelope
}

// fields returns data.fields of a validation error.
func (r response) fields() map[string]string {
	var d struct {
		Fields map[string]string `json:"fields"`
	}
	_ = json.Unmarshal(r.env.Data, &d)
	return d.Fields
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.status, r.body)
}

// decode decodes data into v or fails the test.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.env.Data, v); err != nil {
		t.Fatalf("decode data of %s: %v", r, err)
	}
}

// req is one request: body may be a string (sent as is) or a value (sent as JSON).
type req struct {
	method, path, token string
	body                any
	header              map[string]string
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(data)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.app.Test(hr, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, body: data}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &out.env); err != nil {
			e.t.Fatalf("%s %s: body is not the envelope: %v: %s", r.method, r.path, err, data)
		}
	}
	return out
}

// expect does r and fails the test unless the status and result code are status (and code,
// when given).
func (e *env) expect(r req, status int, code ...int) response {
	e.t.Helper()
	resp := e.do(r)
	want := status
	if len(code) > 0 {
		want = code[0]
	}
	if resp.status != status || resp.env.Result.Code != want {
		e.t.Fatalf("%s %s: got %s, want status %d result_code %d", r.method, r.path, resp, status, want)
	}
	return resp
}

var seq atomic.Int64

// email returns a fresh e-mail address.
func email(prefix string) string {
	return fmt.Sprintf("%s%d-%s@example.com", prefix, seq.Add(1), uuid.NewString()[:8])
}

const password = "abcd123!"

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresAt    string `json:"expires_at"`
}

type account struct {
	id     uuid.UUID
	email  string
	tokens tokens
}

// user signs up a fresh user through the API and logs in.
func (e *env) user() account {
	e.t.Helper()
	addr := email("user")
	resp := e.expect(req{method: "POST", path: "/api/v1/users", body: map[string]string{
		"name": "Kim Minsu", "email": addr, "password": password, "phone": "01012345678"}}, 201)
	var u struct {
		ID uuid.UUID `json:"id"`
	}
	resp.decode(e.t, &u)
	return account{id: u.ID, email: addr, tokens: e.login(addr, password, "USER")}
}

func (e *env) login(addr, pass, role string) tokens {
	e.t.Helper()
	body := map[string]string{"email": addr, "password": pass}
	if role != "" {
		body["role"] = role
	}
	resp := e.expect(req{method: "POST", path: "/api/v1/auth/login", body: body}, 200)
	var tk tokens
	resp.decode(e.t, &tk)
	return tk
}

// seller creates a seller directly and logs in.
func (e *env) seller() account {
	e.t.Helper()
	addr := email("seller")
	id, err := e.svc.EnsureSeller(e.t.Context(), auth.NewAccount{Name: "Seller", Email: addr, Password: password, Phone: "01099998888"})
	if err != nil {
		e.t.Fatalf("EnsureSeller: %v", err)
	}
	return account{id: id, email: addr, tokens: e.login(addr, password, "SELLER")}
}

// supervisor creates a supervisor directly and logs in.
func (e *env) supervisor() account {
	e.t.Helper()
	addr := email("super")
	id, err := e.svc.EnsureSupervisor(e.t.Context(), auth.NewAccount{Name: "Super", Email: addr, Password: password})
	if err != nil {
		e.t.Fatalf("EnsureSupervisor: %v", err)
	}
	return account{id: id, email: addr, tokens: e.login(addr, password, "SUPERVISOR")}
}
