package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/projections"
)

func TestCommandOutcomesAndConflictsAreCounted(t *testing.T) {
	m := New()
	obs := m.Commands()
	obs.Command("PlaceOrder", nil, 3*time.Millisecond)
	obs.Command("PlaceOrder", domain.Conflictf("OUT_OF_STOCK", "short"), time.Millisecond)
	obs.Command("PlaceOrder", errors.New("database gone"), time.Second)
	obs.Conflict("product-0b0e1f8e-6a4c-4a5e-8d7e-2f1f0c9c1a11")
	obs.Retry("product-0b0e1f8e-6a4c-4a5e-8d7e-2f1f0c9c1a11", 2)

	for _, tt := range []struct {
		outcome string
		want    float64
	}{{"ok", 1}, {"conflict", 1}, {"error", 1}, {"invalid", 0}} {
		if got := testutil.ToFloat64(m.commands.WithLabelValues("PlaceOrder", tt.outcome)); got != tt.want {
			t.Errorf("commands{PlaceOrder,%s} = %v, want %v", tt.outcome, got, tt.want)
		}
	}
	if got := testutil.ToFloat64(m.conflicts.WithLabelValues("product")); got != 1 {
		t.Errorf("conflicts{product} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.retries.WithLabelValues("product")); got != 1 {
		t.Errorf("retries{product} = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.cmdTime, "commerce_command_duration_seconds"); got != len(commands.CommandNames) {
		t.Errorf("commerce_command_duration_seconds has %d series, want one per command (%d)", got, len(commands.CommandNames))
	}
	var placeCount uint64
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "commerce_command_duration_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			if metric.GetLabel()[0].GetValue() == "PlaceOrder" {
				placeCount = metric.GetHistogram().GetSampleCount()
			}
		}
	}
	if placeCount != 3 {
		t.Errorf("commerce_command_duration_seconds{command=PlaceOrder} count = %d, want 3", placeCount)
	}
}

// TestSeriesExistAtZeroFromTheStart scrapes a fresh registry: the series an alert or a rate()
// reads must be there before anything moved them.
func TestSeriesExistAtZeroFromTheStart(t *testing.T) {
	m := New("orders.v3")
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	series := map[string]float64{}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range metric.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case metric.GetCounter() != nil:
				series[key] = metric.GetCounter().GetValue()
			case metric.GetGauge() != nil:
				series[key] = metric.GetGauge().GetValue()
			case metric.GetHistogram() != nil:
				series[key] = float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	for _, key := range []string{
		"commerce_commands_total,command=PlaceOrder,outcome=ok",
		"commerce_commands_total,command=WriteReview,outcome=error",
		"commerce_command_conflicts_total,aggregate=product",
		"commerce_command_retries_total,aggregate=order",
		"commerce_condition_failures_total,aggregate=order",
		"commerce_orders_settled_total,reason=OUT_OF_STOCK,status=REJECT",
		"commerce_orders_settled_total,reason=,status=ORDER",
		"commerce_order_settle_seconds,status=ORDER",
		"commerce_projection_failures_total,projector=orders.v3",
		"commerce_projection_events_total,projector=orders.v3",
		"commerce_command_duration_seconds,command=PlaceOrder",
	} {
		v, ok := series[key]
		if !ok {
			t.Errorf("series %s missing from a fresh registry", key)
		} else if v != 0 {
			t.Errorf("series %s = %v on a fresh registry, want 0", key, v)
		}
	}
	found := false
	for key, v := range series {
		if strings.HasPrefix(key, "commerce_build_info,") && v == 1 {
			found = true
		}
	}
	if !found {
		t.Error("commerce_build_info missing or not 1")
	}
}

// TestPoolStatisticsAreExported scrapes the pool gauges of a real pool with one connection held.
func TestPoolStatisticsAreExported(t *testing.T) {
	pool := pgtest.New(t)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer conn.Release()
	m := New()
	m.WatchPool(pool)
	for name, want := range map[string]float64{
		"commerce_db_pool_acquired_connections": 1,
		"commerce_db_pool_acquires_total":       float64(pool.Stat().AcquireCount()), // the migrations' and this one
		"commerce_db_pool_max_connections":      float64(pool.Config().MaxConns),
	} {
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatalf("Gather: %v", err)
		}
		got, found := 0.0, false
		for _, mf := range mfs {
			if mf.GetName() == name {
				found = true
				metric := mf.GetMetric()[0]
				if metric.GetGauge() != nil {
					got = metric.GetGauge().GetValue()
				} else {
					got = metric.GetCounter().GetValue()
				}
			}
		}
		if !found || got != want {
			t.Errorf("%s = %v (found %v), want %v", name, got, found, want)
		}
	}
}

func TestProjectionStateIsOneHot(t *testing.T) {
	m := New()
	p := m.Projections()
	p.StateChanged("catalog.v1", projections.StateRunning)
	p.StateChanged("catalog.v1", projections.StateFailing)
	if got := testutil.ToFloat64(m.projState.WithLabelValues("catalog.v1", "failing")); got != 1 {
		t.Errorf("state failing = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.projState.WithLabelValues("catalog.v1", "running")); got != 0 {
		t.Errorf("state running = %v, want 0 after the change", got)
	}
	m.Fulfilment().Settled(order.StatusReject, "OUT_OF_STOCK", 40*time.Millisecond)
	if got := testutil.ToFloat64(m.settled.WithLabelValues("REJECT", "OUT_OF_STOCK")); got != 1 {
		t.Errorf("settled{REJECT,OUT_OF_STOCK} = %v, want 1", got)
	}
}

// TestReadinessIsAMetric asks a check that answers and one that does not.
func TestReadinessIsAMetric(t *testing.T) {
	m := New()
	m.WatchReady("database", func(context.Context) error { return nil })
	m.WatchReady("bus", func(context.Context) error { return errors.New("no broker answers") })
	want := `
# HELP commerce_ready 1 when the readiness check answers, 0 when it does not (what /readyz asks).
# TYPE commerce_ready gauge
commerce_ready{check="bus"} 0
commerce_ready{check="database"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "commerce_ready"); err != nil {
		t.Fatal(err)
	}
}
