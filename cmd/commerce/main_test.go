package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// runCLI runs the command line with the environment m and returns the exit code and what was
// printed.
func runCLI(t *testing.T, m map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut, envMap(m))
	return code, out.String(), errOut.String()
}

func TestCLIWithoutDatabase(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout or stderr
	}{
		{"unknown command", []string{"bogus"}, 1, `unknown command "bogus"`},
		{"version", []string{"--version"}, 0, "commerce version"},
		{"help", []string{"--help"}, 0, "healthcheck"},
		{"serve help lists the variables", []string{"serve", "--help"}, 0, "KAFKA_SESSION_TIMEOUT"},
		{"bench help lists its flags", []string{"bench", "-h"}, 0, "-scenario"},
		{"admin help says where the password comes from", []string{"admin", "create-supervisor", "--help"}, 0, supervisorPasswordEnv},
		{"unknown subcommand", []string{"projections", "bogus"}, 1, `unknown command "bogus" for "commerce projections"`},
		{"projections list refuses an extra word", []string{"projections", "list", "extra"}, 1, `unknown command "extra"`},
		{"rebuild wants a name or --all", []string{"projections", "rebuild"}, 1, "name one projector, or give --all"},
		{"rebuild refuses a name and --all", []string{"projections", "rebuild", "orders", "--all"}, 1, "name one projector, or give --all"},
		{"a password is never a flag", []string{"admin", "create-supervisor", "--email", "a@b.c", "--name", "A", "--password", "x"}, 1, "unknown flag: --password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("commerce %s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d and %q", strings.Join(tt.args, " "), code, out, errOut, tt.wantCode, tt.want)
			}
			if strings.Contains(out+errOut, "DATABASE_URL is required") || strings.Contains(out+errOut, "DATABASE_URL: is required") {
				t.Fatalf("commerce %s asked for DATABASE_URL:\n%s%s", strings.Join(tt.args, " "), out, errOut)
			}
		})
	}
}

func TestCLIConfigErrorMasksThePassword(t *testing.T) {
	code, out, errOut := runCLI(t, map[string]string{"DATABASE_URL": "postgresql//commerce:hunter2@db:5432/shop"}, "", "migrate")
	if code != 1 || !strings.Contains(errOut, "DATABASE_URL") || strings.Contains(out+errOut, "hunter2") {
		t.Fatalf("commerce migrate with a bad DATABASE_URL: exit %d, output:\n%s%s\nwant exit 1 naming DATABASE_URL without the password", code, out, errOut)
	}
}

func TestHealthcheckAsksTheOperationsAddress(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	m := map[string]string{"ROLES": "relay,projector", "METRICS_ADDR": addr}
	if code, out, errOut := runCLI(t, m, "", "healthcheck"); code != 0 {
		t.Fatalf("commerce healthcheck against a ready process without DATABASE_URL: exit %d:\n%s%s", code, out, errOut)
	}
	status = http.StatusServiceUnavailable
	if code, _, errOut := runCLI(t, m, "", "healthcheck"); code != 1 || !strings.Contains(errOut, "503") {
		t.Fatalf("commerce healthcheck against a process answering 503: exit %d, stderr %q; want exit 1 naming 503", code, errOut)
	}
}

func TestReadPassword(t *testing.T) {
	if p, err := readPassword("from-env", strings.NewReader("from-stdin\n")); err != nil || p != "from-env" {
		t.Fatalf("readPassword with the variable set = %q, %v; want from-env", p, err)
	}
	if p, err := readPassword("", strings.NewReader("from-stdin\r\nmore\n")); err != nil || p != "from-stdin" {
		t.Fatalf("readPassword from stdin = %q, %v; want from-stdin", p, err)
	}
	if _, err := readPassword("", strings.NewReader("")); err == nil {
		t.Fatal("readPassword with nothing = nil error, want one")
	}
}

// TestCreateSupervisorInProduction creates the first supervisor with ENV=production, the
// password on stdin, and logs in with it.
func TestCreateSupervisorInProduction(t *testing.T) {
	m := map[string]string{
		"ENV":                   "production",
		"DATABASE_URL":          pgtest.NewURL(t),
		"JWT_SECRET_USER":       "prod-user-8d1f0c4b6e2a4f7d9c3b5a1e0f2d4c6b",
		"JWT_SECRET_SELLER":     "prod-seller-3a5c7e9b1d2f4a6c8e0b2d4f6a8c0e2",
		"JWT_SECRET_SUPERVISOR": "prod-super-5e7a9c1b3d5f7a9c1e3b5d7f9a1c3e5",
	}
	const password = "N3wSup3r!pw"
	code, out, errOut := runCLI(t, m, password+"\n", "admin", "create-supervisor", "--email", "root@shop.example", "--name", "Root")
	if code != 0 {
		t.Fatalf("commerce admin create-supervisor in production: exit %d:\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, password) {
		t.Fatalf("the password is in the output:\n%s%s", out, errOut)
	}
	cfg, err := loadConfig(envMap(m))
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if _, err := a.auth.Login(context.Background(), "root@shop.example", password, domain.RoleSupervisor); err != nil {
		t.Fatalf("log in as the new supervisor: %v", err)
	}
	// Without a password anywhere it refuses.
	if code, _, errOut := runCLI(t, m, "", "admin", "create-supervisor", "--email", "other@shop.example", "--name", "Other"); code != 1 || !strings.Contains(errOut, supervisorPasswordEnv) {
		t.Fatalf("create-supervisor without a password: exit %d, %q; want exit 1 naming %s", code, errOut, supervisorPasswordEnv)
	}
}
