// Package telemetry turns what the command side, the projection runner and the relay observe into
// Prometheus metrics on one registry, the one GET /metrics serves.
package telemetry

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/projections"
)

// Metrics holds the process's registry and the collectors every part reports to.
type Metrics struct {
	// Registry is served at /metrics; it also has the Go runtime and process collectors.
	Registry *prometheus.Registry

	commands   *prometheus.CounterVec
	conflicts  *prometheus.CounterVec
	retries    *prometheus.CounterVec
	snapshots  *prometheus.CounterVec
	stale      *prometheus.CounterVec
	applied    *prometheus.CounterVec
	batchTime  *prometheus.HistogramVec
	checkpoint *prometheus.GaugeVec
	lagEvents  *prometheus.GaugeVec
	lagPos     *prometheus.GaugeVec
	projFailed *prometheus.CounterVec
	projState  *prometheus.GaugeVec
	settled    *prometheus.CounterVec
	stockBatch prometheus.Histogram
}

// New registers every collector on a fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_commands_total", Help: "Commands handled, by command and outcome (ok, invalid, not_found, conflict, forbidden, error).",
		}, []string{"command", "outcome"}),
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
		stockBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "commerce_stock_batch_requests", Help: "Commands (stock requests, restocks, edits, reads) each batch of a product stream's writer decided together.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	reg.MustRegister(m.commands, m.conflicts, m.retries, m.snapshots, m.stale, m.applied, m.batchTime,
		m.checkpoint, m.lagEvents, m.lagPos, m.projFailed, m.projState, m.settled, m.stockBatch)
	return m
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

func (o commandObserver) Command(name string, err error) {
	o.m.commands.WithLabelValues(name, outcome(err)).Inc()
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

type fulfilmentObserver struct{ m *Metrics }

func (o fulfilmentObserver) Settled(status order.Status, reason string) {
	o.m.settled.WithLabelValues(string(status), reason).Inc()
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
	for _, s := range []projections.State{projections.StateRunning, projections.StateStandby,
		projections.StateFailing, projections.StateRebuilding, projections.StateStopped} {
		v := 0.0
		if s == state {
			v = 1
		}
		p.m.projState.WithLabelValues(name, string(s)).Set(v)
	}
}
