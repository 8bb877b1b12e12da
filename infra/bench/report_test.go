package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport() Report {
	r := Report{
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: "15s",
		Machine: Machine{OS: "linux", Arch: "amd64", CPUs: 2, Go: "go1.26.8", Postgres: "PostgreSQL 15.14",
			Settings: map[string]string{"fsync": "on", "synchronous_commit": "on"}},
		Results: []Result{
			{Scenario: "seed", Path: PathEventSourced, Workers: 200, Seconds: 0.5, Settled: 200, Accepted: 15, Rejected: 185, OrdersPerSecond: 400, P50Ms: 120, P99Ms: 480, Verified: true},
			{Scenario: "seed", Path: PathBaseline, Workers: 200, Seconds: 0.25, Settled: 200, Accepted: 15, Rejected: 185, OrdersPerSecond: 800, P50Ms: 60, P99Ms: 240, Verified: true},
			{Scenario: "mixed", Path: PathBaseline, Workers: 16, QueryWorkers: 4, Seconds: 15.01, Settled: 30000, Accepted: 30000, OrdersPerSecond: 2000, P50Ms: 7.5, P99Ms: 31.25, Queries: 900, CatalogP50Ms: 1.5, CatalogP99Ms: 9, UserOrdersP50Ms: 0.8, UserOrdersP99Ms: 4, AppCPUMsPerOrder: 0.3, DBCPUMsPerOrder: 1.25, Verified: true},
			{Scenario: "mixed", Path: PathEventSourced, Workers: 16, QueryWorkers: 4, Seconds: 15.2, Settled: 15000, Accepted: 14990, Rejected: 10, OrdersPerSecond: 1000, P50Ms: 14, P99Ms: 95, Conflicts: 12, Retries: 12, Queries: 800, CatalogP50Ms: 2, CatalogP99Ms: 18, UserOrdersP50Ms: 1, UserOrdersP99Ms: 5, LagSamples: 300, ProjectionLagP99: 150, AppCPUMsPerOrder: 1.5, Verified: false, Problem: "product x stock 3, want 4 | more"},
		},
	}
	r.setRatios()
	return r
}

func TestWriteMarkdown(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().WriteMarkdown(&b); err != nil {
		t.Fatalf("WriteMarkdown: %v", err)
	}
	want := `linux/amd64, 2 CPUs, go1.26.8, PostgreSQL 15.14 (fsync=on, synchronous_commit=on); 15s per path per timed run; mixed: each query worker one query every 20ms; started 2026-01-02T03:04:05Z

| scenario | workers | path | orders/s | p50 ms | p99 ms | settled | rejected | conflicts | retries | ES/baseline | catalog p50/p99 ms | user orders p50/p99 ms | lag p99 ms | CPU ms/order app / db | run s | check |
|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
| seed | 200 | event-sourced | 400 | 120 | 480 | 200 | 185 | 0 | 0 | 0.50 |  |  |  |  | 0.50 | ok |
| seed | 200 | baseline | 800 | 60.0 | 240 | 200 | 185 | 0 | 0 |  |  |  |  |  | 0.25 | ok |
| mixed | 16 + 4q | baseline | 2000 | 7.50 | 31.2 | 30000 | 0 | 0 | 0 |  | 1.50 / 9.00 | 0.80 / 4.00 |  | 0.30 / 1.25 | 15.01 | ok |
| mixed | 16 + 4q | event-sourced | 1000 | 14.0 | 95.0 | 15000 | 10 | 12 | 12 | 0.50 | 2.00 / 18.0 | 1.00 / 5.00 | 150 | 1.50 / ? | 15.20 | FAIL: product x stock 3, want 4 / more |
`
	if got := b.String(); got != want {
		t.Fatalf("WriteMarkdown wrote\n%s\nwant\n%s", got, want)
	}
}

func TestWriteJSONFileHasTheSameFigures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	rep := sampleReport()
	if err := rep.WriteJSONFile(path); err != nil {
		t.Fatalf("WriteJSONFile: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode %s: %v\n%s", path, err, b)
	}
	if len(got.Results) != 4 || got.Results[0].Ratio != 0.5 || got.Results[3].ProjectionLagP99 != 150 ||
		got.Results[2].CatalogP99Ms != 9 || got.Machine.Settings["fsync"] != "on" || got.Results[3].Verified {
		t.Fatalf("JSON report = %+v, want the figures of the report written", got)
	}
	for _, key := range []string{`"orders_per_second": 400`, `"es_baseline_ratio": 0.5`, `"p99_ms": 480`, `"projection_lag_p99_ms": 150`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
}

func TestFailed(t *testing.T) {
	rep := sampleReport()
	rep.Results[1].Errors = 2
	failed := rep.Failed()
	if len(failed) != 2 || failed[0].Path != PathBaseline || failed[1].Scenario != "mixed" {
		t.Fatalf("Failed() = %+v, want the seed baseline (errors) and the mixed event-sourced run (unverified)", failed)
	}
}
