package telemetry

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/projections"
)

func TestCommandOutcomesAndConflictsAreCounted(t *testing.T) {
	m := New()
	obs := m.Commands()
	obs.Command("PlaceOrder", nil)
	obs.Command("PlaceOrder", domain.Conflictf("OUT_OF_STOCK", "short"))
	obs.Command("PlaceOrder", errors.New("database gone"))
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
	m.Fulfilment().Settled(order.StatusReject, "OUT_OF_STOCK")
	if got := testutil.ToFloat64(m.settled.WithLabelValues("REJECT", "OUT_OF_STOCK")); got != 1 {
		t.Errorf("settled{REJECT,OUT_OF_STOCK} = %v, want 1", got)
	}
}
