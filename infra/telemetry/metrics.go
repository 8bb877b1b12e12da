// Package telemetry is what an operator sees of the process: Prometheus metrics of the command
// side, the process manager, the projection runner, the relay and the database pool on one
// registry (the one GET /metrics serves), and OpenTelemetry traces (StartTracing), off unless the
// standard OTEL_* variables ask for them.
//
// Every labelled counter is created at zero for each label value known at start (every command
// and outcome, aggregate type, projector, settlement), so that rate() and alert rules see a
// series from the first scrape instead of one that appears when it first moves.
package telemetry

import (
	"cmp"
	"context"
	"errors"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/projections"
)

// Metrics holds the process's registry and the collectors every part reports to.
type Metrics struct {
	// Registry is served at /metrics; it also has the Go runtime and process collectors.
	Registry *prometheus.Registry

	commands   *prometheus.CounterVec
	cmdTime    *prometheus.HistogramVec
	conflicts  *prometheus.CounterVec
	retries    *prometheus.CounterVec
	snapshots  *prometheus.CounterVec
	stale      *prometheus.CounterVec
	conditions *prometheus.CounterVec
	applied    *prometheus.CounterVec
	batchTime  *prometheus.HistogramVec
	checkpoint *prometheus.GaugeVec
	lagEvents  *prometheus.GaugeVec
	lagPos     *prometheus.GaugeVec
	projFailed *prometheus.CounterVec
	projState  *prometheus.GaugeVec
	settled    *prometheus.CounterVec
	settleTime *prometheus.HistogramVec
	stockBatch prometheus.Histogram
}

// outcomes are the values of the commands' outcome label (see outcome).
var outcomes = []string{"ok", "invalid", "not_found", "conflict", "forbidden", "error"}

// settlements are the status and reason label pairs of the orders settled.
var settlements = [][2]string{
	{string(order.StatusOrder), ""},
	{string(order.StatusReject), product.CodeOutOfStock},
	{string(order.StatusReject), product.CodeNotOnSale},
}

// projectorStates are the values of the projection state label.
var projectorStates = []projections.State{projections.StateRunning, projections.StateStandby,
	projections.StateFailing, projections.StateRebuilding, projections.StateStopped}

// New registers every collector on a fresh registry, with every label set known at start at zero:
// the commands and their outcomes, the aggregate types, the settlements, and the projectors named.
func New(projectors ...string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(), buildInfo())
	m := &Metrics{
		Registry: reg,
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_commands_total", Help: "Commands handled, by command and outcome (ok, invalid, not_found, conflict, forbidden, error).",
		}, []string{"command", "outcome"}),
		cmdTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "commerce_command_duration_seconds", Help: "Time to handle each command, load and retries included, by command.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"command"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_command_conflicts_total", Help: "Appends refused because the stream's version moved, by aggregate type.",
		}, []string{"aggregate"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_command_retries_total", Help: "Command attempts after a version conflict, by aggregate type.",
		}, []string{"aggregate"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_snapshot_failures_total", Help: "Snapshot reads or writes that failed, by aggregate type.",
		}, []string{"aggregate"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_stale_cache_total", Help: "Cached aggregate states found no longer matching their stream (the store took back events), by aggregate type.",
		}, []string{"aggregate"}),
		conditions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_condition_failures_total", Help: "Appends refused because a condition on another stream failed (an order's cached products, a reservation's order moved), after which the commands read and decide again, by the appended stream's aggregate type.",
		}, []string{"aggregate"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_projection_events_total", Help: "Events applied by each projector.",
		}, []string{"projector"}),
		batchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "commerce_projection_batch_seconds", Help: "Time of each projector transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"projector"}),
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "commerce_projection_checkpoint", Help: "Each projector's checkpoint position.",
		}, []string{"projector"}),
		lagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "commerce_projection_lag_events", Help: "Events between each projector's checkpoint and the log's head (-1: unknown).",
		}, []string{"projector"}),
		lagPos: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "commerce_projection_lag_positions", Help: "Distance in positions between each projector's checkpoint and the log's head.",
		}, []string{"projector"}),
		projFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_projection_failures_total", Help: "Failed attempts of each projector.",
		}, []string{"projector"}),
		projState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "commerce_projection_state", Help: "1 for each projector's current state in this process.",
		}, []string{"projector", "state"}),
		settled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_orders_settled_total", Help: "Orders the fulfilment process manager settled, by status and reject reason.",
		}, []string{"status", "reason"}),
		settleTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "commerce_order_settle_seconds", Help: "Time from an order's placing to its outcome appended by the process manager, by status.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"status"}),
		stockBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "commerce_stock_batch_requests", Help: "Commands (stock requests, restocks, edits, reads) each batch of a product stream's writer decided together.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	reg.MustRegister(m.commands, m.cmdTime, m.conflicts, m.retries, m.snapshots, m.stale, m.conditions, m.applied, m.batchTime,
		m.checkpoint, m.lagEvents, m.lagPos, m.projFailed, m.projState, m.settled, m.settleTime, m.stockBatch)
	m.zero(projectors)
	return m
}

// zero creates every label set known at start, so that each series exists from the first scrape.
func (m *Metrics) zero(projectors []string) {
	for _, name := range commands.CommandNames {
		for _, o := range outcomes {
			m.commands.WithLabelValues(name, o)
		}
		m.cmdTime.WithLabelValues(name)
	}
	for _, agg := range bus.AggregateTypes {
		m.conflicts.WithLabelValues(agg)
		m.retries.WithLabelValues(agg)
		m.snapshots.WithLabelValues(agg)
		m.stale.WithLabelValues(agg)
		m.conditions.WithLabelValues(agg)
	}
	for _, s := range settlements {
		m.settled.WithLabelValues(s[0], s[1])
		m.settleTime.WithLabelValues(s[0])
	}
	for _, p := range projectors {
		m.applied.WithLabelValues(p)
		m.batchTime.WithLabelValues(p)
		m.projFailed.WithLabelValues(p)
	}
}

// buildVersion is set at link time by builds that know their version, such as the Dockerfile's
// VERSION argument: -ldflags "-X github.com/commerce-dev/commerce/infra/telemetry.buildVersion=v1.2.3".
var buildVersion string

// Version returns the version the binary was built as (the link-time version, else the module
// version, "(devel)" for a build from a checkout) and the VCS revision it was built from, when the
// toolchain recorded one.
func Version() (version, revision string) {
	version = buildVersion
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return cmp.Or(version, "unknown"), ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return cmp.Or(version, bi.Main.Version), revision
}

// buildInfo is commerce_build_info: always 1, labelled with what the binary is, so that a
// dashboard shows which build each instance runs and when that changed.
func buildInfo() prometheus.Collector {
	version, revision := Version()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "commerce_build_info", Help: "Always 1; the labels say which build this process runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision},
	})
	g.Set(1)
	return g
}

// WatchReady exports commerce_ready{check=name}: 1 when ping answers within two seconds, 0 when
// it does not, asked when /metrics is scraped. It is /readyz as a metric, for alert rules.
func (m *Metrics) WatchReady(name string, ping func(context.Context) error) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "commerce_ready", Help: "1 when the readiness check answers, 0 when it does not (what /readyz asks).",
		ConstLabels: prometheus.Labels{"check": name},
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if ping(ctx) != nil {
			return 0
		}
		return 1
	}))
}

// WatchPool exports the database pool's statistics, read when /metrics is scraped: connections
// in use, idle and in all against the maximum, and how often and how long acquiring waited.
func (m *Metrics) WatchPool(pool *pgxpool.Pool) {
	gauge := func(name, help string, f func(*pgxpool.Stat) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(pool.Stat()) })
	}
	counter := func(name, help string, f func(*pgxpool.Stat) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(pool.Stat()) })
	}
	m.Registry.MustRegister(
		gauge("commerce_db_pool_acquired_connections", "Connections of the pool in use now.", func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		gauge("commerce_db_pool_idle_connections", "Connections of the pool idle now.", func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		gauge("commerce_db_pool_total_connections", "Connections of the pool open now, in use, idle or being opened.", func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		gauge("commerce_db_pool_max_connections", "The most connections the pool opens (pool_max_conns).", func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		counter("commerce_db_pool_acquires_total", "Connections acquired from the pool.", func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		counter("commerce_db_pool_empty_acquires_total", "Acquires that had to wait because no connection was idle.", func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		counter("commerce_db_pool_canceled_acquires_total", "Acquires given up because their context ended.", func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
		counter("commerce_db_pool_acquire_wait_seconds_total", "Time spent acquiring connections, waits included.", func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
	)
}

// Commands returns the observer the command handlers report to.
func (m *Metrics) Commands() commands.Observer { return commandObserver{m} }

// Fulfilment returns the observer of the order-fulfilment process manager.
func (m *Metrics) Fulfilment() commands.FulfilmentObserver { return fulfilmentObserver{m} }

// Projections returns the metrics sink of the projection runner.
func (m *Metrics) Projections() projections.Metrics { return projectionMetrics{m} }

// WatchRelay exports the relay's lag, checkpoint and published count, read when /metrics is scraped.
func (m *Metrics) WatchRelay(r *relay.Relay) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "commerce_relay_lag_seconds", Help: "Age of the oldest event the relay has not published yet (0: caught up).",
		}, func() float64 { return r.Status().Lag.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "commerce_relay_checkpoint", Help: "Position of the last event the relay published.",
		}, func() float64 { return float64(r.Status().Checkpoint) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "commerce_relay_published_total", Help: "Messages the relay published from this process.",
		}, func() float64 { return float64(r.Status().Published) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "commerce_relay_active", Help: "1 when this process is the active relay, 0 on a standby.",
		}, func() float64 {
			if r.Status().Active {
				return 1
			}
			return 0
		}),
	)
}

// outcome names a command result for the outcome label.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		return "error"
	}
	switch de.Kind {
	case domain.Invalid:
		return "invalid"
	case domain.NotFound:
		return "not_found"
	case domain.Conflict:
		return "conflict"
	case domain.Forbidden:
		return "forbidden"
	default:
		return "error"
	}
}

type commandObserver struct{ m *Metrics }

func (o commandObserver) Command(name string, err error, took time.Duration) {
	o.m.commands.WithLabelValues(name, outcome(err)).Inc()
	o.m.cmdTime.WithLabelValues(name).Observe(took.Seconds())
}

func (o commandObserver) Conflict(stream string) {
	o.m.conflicts.WithLabelValues(domain.AggregateType(stream)).Inc()
}

func (o commandObserver) Retry(stream string, _ int) {
	o.m.retries.WithLabelValues(domain.AggregateType(stream)).Inc()
}

func (o commandObserver) SnapshotFailed(stream string, _ error) {
	o.m.snapshots.WithLabelValues(domain.AggregateType(stream)).Inc()
}

func (o commandObserver) StaleCache(stream string, _ int64) {
	o.m.stale.WithLabelValues(domain.AggregateType(stream)).Inc()
}

// ConditionFailed counts an append refused for a failed condition on another stream.
func (o commandObserver) ConditionFailed(stream string) {
	o.m.conditions.WithLabelValues(domain.AggregateType(stream)).Inc()
}

type fulfilmentObserver struct{ m *Metrics }

func (o fulfilmentObserver) Settled(status order.Status, reason string, sincePlaced time.Duration) {
	o.m.settled.WithLabelValues(string(status), reason).Inc()
	o.m.settleTime.WithLabelValues(string(status)).Observe(sincePlaced.Seconds())
}

// Batch observes the batches of the product streams' writers (the stock group commit).
func (o commandObserver) Batch(stream string, requests int) {
	if domain.AggregateType(stream) == "product" {
		o.m.stockBatch.Observe(float64(requests))
	}
}

type projectionMetrics struct{ m *Metrics }

func (p projectionMetrics) Applied(name string, events int, cp eventstore.Position, took time.Duration) {
	p.m.applied.WithLabelValues(name).Add(float64(events))
	p.m.batchTime.WithLabelValues(name).Observe(took.Seconds())
	p.m.checkpoint.WithLabelValues(name).Set(float64(cp))
}

func (p projectionMetrics) Lag(name string, positions uint64, events int64) {
	p.m.lagPos.WithLabelValues(name).Set(float64(positions))
	p.m.lagEvents.WithLabelValues(name).Set(float64(events))
}

func (p projectionMetrics) Failed(name string, _ error) { p.m.projFailed.WithLabelValues(name).Inc() }

func (p projectionMetrics) StateChanged(name string, state projections.State) {
	for _, s := range projectorStates {
		v := 0.0
		if s == state {
			v = 1
		}
		p.m.projState.WithLabelValues(name, string(s)).Set(v)
	}
}
