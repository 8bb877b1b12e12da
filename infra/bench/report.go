package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Path names in the report.
const (
	// PathEventSourced is the system itself: PlaceOrder, then the fulfilment settles the order.
	PathEventSourced = "event-sourced"
	// PathBaseline is one Postgres transaction per order with a conditional UPDATE per line.
	PathBaseline = "baseline"
)

// Result is what one path did in one scenario at one worker count.
type Result struct {
	Scenario string `json:"scenario"`
	Path     string `json:"path"`
	// Workers is the number of order-placing workers (seed: the 200 concurrent orders).
	Workers int `json:"workers"`
	// QueryWorkers is the number of querying workers in the mixed scenario.
	QueryWorkers int `json:"query_workers,omitempty"`
	// Seconds is the wall time from the first order to the last settled one; for seed, the time
	// until all 200 orders were settled.
	Seconds float64 `json:"seconds"`
	// Settled counts orders that came back accepted or rejected; Errors those that did not.
	Settled  int `json:"settled"`
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Errors   int `json:"errors"`
	// OrdersPerSecond is Settled / Seconds.
	OrdersPerSecond float64 `json:"orders_per_second"`
	// P50Ms and P99Ms are the times from placing an order to its settlement.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// Conflicts are appends refused for a wrong expected version (baseline: none exist);
	// Retries are the attempts those conflicts caused (baseline: transactions retried after a
	// deadlock or serialization failure).
	Conflicts int64 `json:"conflicts"`
	Retries   int64 `json:"retries"`
	// Ratio is this path's throughput over the baseline's in the same scenario and worker count;
	// set on the event-sourced row.
	Ratio float64 `json:"es_baseline_ratio,omitempty"`
	// Mixed scenario: query latencies and how many queries ran.
	Queries          int     `json:"queries,omitempty"`
	CatalogP50Ms     float64 `json:"catalog_p50_ms,omitempty"`
	CatalogP99Ms     float64 `json:"catalog_p99_ms,omitempty"`
	UserOrdersP50Ms  float64 `json:"user_orders_p50_ms,omitempty"`
	UserOrdersP99Ms  float64 `json:"user_orders_p99_ms,omitempty"`
	LagSamples       int     `json:"lag_samples,omitempty"`
	ProjectionLagP99 float64 `json:"projection_lag_p99_ms,omitempty"`
	// AppCPUMsPerOrder is the CPU time this process used during the run per settled order (the
	// query workers' included in mixed); DBCPUMsPerOrder the database server's, when it runs on
	// this machine (see SampleCPU), else 0.
	AppCPUMsPerOrder float64 `json:"app_cpu_ms_per_order,omitempty"`
	DBCPUMsPerOrder  float64 `json:"db_cpu_ms_per_order,omitempty"`
	// Restocks is what the hot scenario's seller did, when it restocked (Options.RestockEvery).
	Restocks *Restocks `json:"restocks,omitempty"`
	// Verified is true when every product's final stock was right and, with Restocks, every
	// restock landed (VerifyRestocks); Problem says what was not.
	Verified bool   `json:"verified"`
	Problem  string `json:"problem,omitempty"`
}

// Machine describes where a report was measured.
type Machine struct {
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	// Settings are the server settings that decide commit cost (fsync, synchronous_commit, ...).
	Settings map[string]string `json:"settings"`
	// PoolConns is the size of each path's connection pool.
	PoolConns int `json:"pool_conns,omitempty"`
}

// Report is everything one bench run measured.
type Report struct {
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Duration string    `json:"duration"`
	Results  []Result  `json:"results"`
}

// Failed returns the results whose verification failed or that had errors.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.Verified || res.Errors > 0 {
			out = append(out, res)
		}
	}
	return out
}

// setRatios fills Ratio on every event-sourced result that has a baseline result in the same
// scenario at the same worker count.
func (r *Report) setRatios() {
	for i, es := range r.Results {
		if es.Path != PathEventSourced {
			continue
		}
		for _, b := range r.Results {
			if b.Path == PathBaseline && b.Scenario == es.Scenario && b.Workers == es.Workers && b.OrdersPerSecond > 0 {
				r.Results[i].Ratio = es.OrdersPerSecond / b.OrdersPerSecond
			}
		}
	}
}

// WriteMarkdown writes the report as a short header and one markdown table row per result.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "%s/%s, %d CPUs, %s, %s", m.OS, m.Arch, m.CPUs, m.Go, m.Postgres)
	if len(m.Settings) > 0 {
		var kv []string
		for _, k := range settingNames {
			if v, ok := m.Settings[k]; ok {
				kv = append(kv, k+"="+v)
			}
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(kv, ", "))
	}
	if m.PoolConns > 0 {
		fmt.Fprintf(&b, "; a pool of %d connections per path", m.PoolConns)
	}
	fmt.Fprintf(&b, "; %s per path per timed run; mixed: each query worker one query every %s; started %s\n\n",
		r.Duration, QueryInterval, r.Started.UTC().Format(time.RFC3339))
	b.WriteString("| scenario | workers | path | orders/s | p50 ms | p99 ms | settled | rejected | conflicts | retries | ES/baseline | catalog p50/p99 ms | user orders p50/p99 ms | lag p99 ms | CPU ms/order app / db | run s | check |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, res := range r.Results {
		workers := strconv.Itoa(res.Workers)
		if res.QueryWorkers > 0 {
			workers += fmt.Sprintf(" + %dq", res.QueryWorkers)
		}
		ratio, catalog, orders, lag, cpu := "", "", "", "", ""
		if res.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", res.Ratio)
		}
		if res.Queries > 0 {
			catalog = fmt.Sprintf("%s / %s", num(res.CatalogP50Ms), num(res.CatalogP99Ms))
			orders = fmt.Sprintf("%s / %s", num(res.UserOrdersP50Ms), num(res.UserOrdersP99Ms))
		}
		if res.LagSamples > 0 {
			lag = num(res.ProjectionLagP99)
		}
		if res.AppCPUMsPerOrder > 0 {
			db := "?"
			if res.DBCPUMsPerOrder > 0 {
				db = num(res.DBCPUMsPerOrder)
			}
			cpu = num(res.AppCPUMsPerOrder) + " / " + db
		}
		check := "ok"
		switch {
		case !res.Verified:
			check = "FAIL: " + res.Problem
		case res.Errors > 0:
			check = fmt.Sprintf("FAIL: %d errors: %s", res.Errors, res.Problem)
		}
		if rs := res.Restocks; rs != nil {
			check += fmt.Sprintf(" (restocks: %d sent, %d landed, %d conflicts, %d failed, p99 %s ms)",
				rs.Sent, rs.Landed, rs.Conflicts, rs.Failed, num(rs.P99Ms))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %.2f | %s |\n",
			res.Scenario, workers, res.Path, res.OrdersPerSecond, num(res.P50Ms), num(res.P99Ms), res.Settled,
			res.Rejected, res.Conflicts, res.Retries, ratio, catalog, orders, lag, cpu, res.Seconds, strings.ReplaceAll(check, "|", "/"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num formats milliseconds with precision that suits their size.
func num(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.2f", ms)
	}
}

// WriteJSONFile writes the report as indented JSON to path.
func (r Report) WriteJSONFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}
