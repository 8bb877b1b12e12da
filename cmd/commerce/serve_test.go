package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/logtest"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// testConfig is the configuration of a process on a fresh database and a free port.
func testConfig(t *testing.T) config {
	t.Helper()
	addr, _ := kafkatest.FreeAddr(t)
	cfg, err := loadConfig(envMap(map[string]string{
		"DATABASE_URL":     pgtest.NewURL(t),
		"HTTP_ADDR":        addr,
		"SECRETS_FILE":     filepath.Join(t.TempDir(), "secrets.json"),
		"SHUTDOWN_TIMEOUT": "10s",
	}))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	return cfg
}

func TestSeedTwiceThenServeAndShutDown(t *testing.T) {
	cfg := testConfig(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	for run := 1; run <= 2; run++ {
		if err := seedCmd(ctx, cfg, log); err != nil {
			t.Fatalf("seed run %d: %v", run, err)
		}
	}

	stop := startServe(t, cfg, log)
	base := "http://" + cfg.HTTPAddr
	waitReady(t, base+"/readyz", 30*time.Second)
	// The demo catalog reaches the read model: every seeded product is on sale.
	eventually(t, 20*time.Second, 100*time.Millisecond, func() string {
		var body struct {
			Pagination struct {
				TotalElements int `json:"total_elements"`
			} `json:"pagination"`
		}
		status := getJSON(t, base+"/api/v1/products", &body)
		if status == http.StatusOK && body.Pagination.TotalElements == len(demoCatalog) {
			return ""
		}
		return fmt.Sprintf("GET /api/v1/products: status %d, %d products; want 200 and %d", status, body.Pagination.TotalElements, len(demoCatalog))
	})

	stop()
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

func TestProductionRefusesDevelopmentSecrets(t *testing.T) {
	cfg := testConfig(t)
	cfg.Env = "production"
	_, err := openApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("openApp in production without JWT secrets succeeded, want a refusal")
	}
	cfg.SecretUser, cfg.SecretSeller, cfg.SecretSuper = "dev-user-secret-0123456789abcdef0123", "dev-seller-secret-0123456789abcdef01", "dev-super-secret-0123456789abcdef012"
	if _, err := openApp(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("openApp in production with development secrets succeeded, want a refusal")
	}
	if err := seedCmd(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("seed in production succeeded, want a refusal")
	}
}

// startServe runs serve with cfg in the background and returns what stops it: stop ends serve's
// context and wants serve to return nil within 30 s. The test's cleanup stops it too.
func startServe(t *testing.T, cfg config, log *slog.Logger) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v after shutdown, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not return within 30 s of the shutdown signal")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitReady waits until url, a /readyz, answers 200, for at most within.
func waitReady(t *testing.T, url string, within time.Duration) {
	t.Helper()
	eventually(t, within, 100*time.Millisecond, func() string {
		resp, err := httpClient.Get(url)
		if err != nil {
			return fmt.Sprintf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("GET %s: %s, want 200", url, resp.Status)
		}
		return ""
	})
}

// eventually calls unmet every `every` until it returns "", and fails the test with its last
// answer once within has passed.
func eventually(t *testing.T, within, every time.Duration, unmet func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		why := unmet()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, why)
		}
		time.Sleep(every)
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
	return resp.StatusCode
}

// TestWorkerProcessServesOperations runs a process without role api: it answers /healthz,
// /readyz and /metrics on METRICS_ADDR, and `commerce healthcheck` finds it there. Its /readyz is
// 503 naming relay and saga until another process on the same database runs them.
func TestWorkerProcessServesOperations(t *testing.T) {
	cfg := testConfig(t)
	cfg.Roles = []string{"projector"}
	cfg.MetricsAddr, _ = kafkatest.FreeAddr(t)
	var logs logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	startServe(t, cfg, log)
	base := "http://" + cfg.MetricsAddr
	// Orders settle only while a relay and a process manager run somewhere: the projector alone
	// is not ready, and is once another process (every role, same database) runs them.
	eventually(t, 30*time.Second, 100*time.Millisecond, func() string {
		resp, err := httpClient.Get(base + "/readyz")
		if err != nil {
			return fmt.Sprintf("GET /readyz: %v", err)
		}
		defer resp.Body.Close()
		var body httpapi.Envelope[httpapi.Readiness]
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusServiceUnavailable || body.Result.ResultDescription != "not ready: relay, saga" {
			return fmt.Sprintf("GET /readyz of the projector alone: %s %q (%v), want 503 \"not ready: relay, saga\"", resp.Status, body.Result.ResultDescription, err)
		}
		return ""
	})
	others := cfg
	others.Roles = allRoles
	others.HTTPAddr, _ = kafkatest.FreeAddr(t)
	others.MetricsAddr = ""
	startServe(t, others, slog.New(slog.DiscardHandler))
	waitReady(t, base+"/readyz", 30*time.Second)
	if !strings.Contains(logs.String(), `"msg":"serving"`) || !strings.Contains(logs.String(), cfg.MetricsAddr) {
		t.Errorf("no serving line naming %s in the log:\n%s", cfg.MetricsAddr, logs.String())
	}
	var health struct {
		Data struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	if status := getJSON(t, base+"/healthz", &health); status != http.StatusOK || health.Data.Status != "ok" {
		t.Errorf("GET /healthz: %d %+v, want 200 ok", status, health)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("GET /metrics: %d without go_goroutines", resp.StatusCode)
	}
	if code, out, errOut := runCLI(t, map[string]string{"ROLES": "projector", "METRICS_ADDR": cfg.MetricsAddr}, "", "healthcheck"); code != 0 {
		t.Errorf("commerce healthcheck: exit %d:\n%s%s", code, out, errOut)
	}
	if _, err := http.Get("http://" + cfg.HTTPAddr + "/healthz"); err == nil {
		t.Error("a process without role api answers on HTTP_ADDR")
	}
}

// TestOperationsListenerAnswersLikeTheAPI serves every role with METRICS_ADDR apart from HTTP_ADDR
// and wants the same /readyz body from the operations listener as from the API.
func TestOperationsListenerAnswersLikeTheAPI(t *testing.T) {
	cfg := testConfig(t)
	cfg.MetricsAddr, _ = kafkatest.FreeAddr(t)
	startServe(t, cfg, slog.New(slog.DiscardHandler))
	api, ops := "http://"+cfg.HTTPAddr+"/readyz", "http://"+cfg.MetricsAddr+"/readyz"
	waitReady(t, api, 30*time.Second)
	waitReady(t, ops, 30*time.Second)
	var fromAPI, fromOps map[string]any
	if status := getJSON(t, api, &fromAPI); status != http.StatusOK {
		t.Fatalf("GET %s: %d, want 200", api, status)
	}
	if status := getJSON(t, ops, &fromOps); status != http.StatusOK {
		t.Fatalf("GET %s: %d, want 200", ops, status)
	}
	if !reflect.DeepEqual(fromAPI, fromOps) {
		t.Errorf("/readyz bodies differ:\nAPI:        %v\noperations: %v", fromAPI, fromOps)
	}
}
