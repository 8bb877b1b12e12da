package bench

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestVerify(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	initial := map[uuid.UUID]int{a: 30, b: 20}
	orders := []Order{
		{ID: uuid.New(), Lines: []Line{{a, 2}, {b, 1}}},
		{ID: uuid.New(), Lines: []Line{{a, 2}}},
	}
	tests := []struct {
		name      string
		restocked map[uuid.UUID]int
		accepted  []Order
		final     map[uuid.UUID]int
		wantErr   string // "" means verified
	}{
		{"no orders, nothing changed", nil, nil, map[uuid.UUID]int{a: 30, b: 20}, ""},
		{"stock matches the accepted orders", nil, orders, map[uuid.UUID]int{a: 26, b: 19}, ""},
		{"stock matches the restocks and the accepted orders", map[uuid.UUID]int{a: 10}, orders, map[uuid.UUID]int{a: 36, b: 19}, ""},
		{"a restock that did not land", map[uuid.UUID]int{a: 10}, orders, map[uuid.UUID]int{a: 26, b: 19}, "stock 26, want 36"},
		{"oversold: one unit too many taken", nil, orders, map[uuid.UUID]int{a: 25, b: 19}, "stock 25, want 26"},
		{"stock taken for a rejected order", nil, orders[1:], map[uuid.UUID]int{a: 26, b: 19}, "stock 19, want 20"},
		{"below zero", nil, nil, map[uuid.UUID]int{a: -1, b: 20}, "below 0"},
		{"missing product", nil, nil, map[uuid.UUID]int{a: 30}, "no final stock"},
		{"order for an unknown product", nil, []Order{{Lines: []Line{{c, 1}}}}, map[uuid.UUID]int{a: 30, b: 20}, "did not create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(initial, tt.restocked, tt.accepted, tt.final)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Verify = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Verify = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyShortensLongLists(t *testing.T) {
	initial, final := map[uuid.UUID]int{}, map[uuid.UUID]int{}
	for range 10 {
		id := uuid.New()
		initial[id], final[id] = 5, 4
	}
	err := Verify(initial, nil, nil, final)
	if err == nil || !strings.Contains(err.Error(), "and 7 more") || strings.Count(err.Error(), "want 5") != 3 {
		t.Fatalf("Verify of 10 mismatches = %v, want 3 named and 'and 7 more'", err)
	}
}

func TestVerifyRestocks(t *testing.T) {
	landed := Restocks{Quantity: 10, Sent: 3, Landed: 3}
	// 100 at the start, 3 restocks of 10, 7 units taken by accepted orders: 123 left.
	good := Ledger{Initial: 100, Restocks: 3, Restocked: 30, Reserved: 7, Final: 123}
	tests := []struct {
		name     string
		restocks Restocks
		ledger   *Ledger
		wantErr  string // "" means verified
	}{
		{"every restock landed, the history adds up", landed, &good, ""},
		{"a path without history: only the answers count", landed, nil, ""},
		{"a restock refused as a conflict", Restocks{Quantity: 10, Sent: 4, Landed: 3, Conflicts: 1, FirstError: "changed at the same time"}, &good,
			"1 of 4 restocks refused as a conflict"},
		{"a restock failed otherwise", Restocks{Quantity: 10, Sent: 4, Landed: 3, Failed: 1, FirstError: "timeout"}, &good, "1 of 4 restocks failed; first refusal: timeout"},
		{"an answered restock missing from the history", landed, &Ledger{Initial: 100, Restocks: 2, Restocked: 20, Reserved: 7, Final: 113},
			"history holds 2 restocks of 20 units, want the 3 landed of 10 each (30 units)"},
		{"a reservation the accepted orders do not explain", landed, &Ledger{Initial: 100, Restocks: 3, Restocked: 30, Reserved: 8, Final: 122},
			"history holds 8 units reserved, want the 7"},
		{"stock that does not add up", landed, &Ledger{Initial: 100, Restocks: 3, Restocked: 30, Reserved: 7, Final: 113}, "= 123, but the final stock is 113"},
		{"another initial stock", landed, &Ledger{Initial: 90, Restocks: 3, Restocked: 30, Reserved: 7, Final: 113}, "starts at stock 90, want 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyRestocks(tt.restocks, 100, 7, tt.ledger)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("VerifyRestocks = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("VerifyRestocks = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
