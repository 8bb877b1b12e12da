package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
