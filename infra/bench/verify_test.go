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
		name     string
		accepted []Order
		final    map[uuid.UUID]int
		wantErr  string // "" means verified
	}{
		{"no orders, nothing changed", nil, map[uuid.UUID]int{a: 30, b: 20}, ""},
		{"stock matches the accepted orders", orders, map[uuid.UUID]int{a: 26, b: 19}, ""},
		{"oversold: one unit too many taken", orders, map[uuid.UUID]int{a: 25, b: 19}, "stock 25, want 26"},
		{"stock taken for a rejected order", orders[1:], map[uuid.UUID]int{a: 26, b: 19}, "stock 19, want 20"},
		{"below zero", nil, map[uuid.UUID]int{a: -1, b: 20}, "below 0"},
		{"missing product", nil, map[uuid.UUID]int{a: 30}, "no final stock"},
		{"order for an unknown product", []Order{{Lines: []Line{{c, 1}}}}, map[uuid.UUID]int{a: 30, b: 20}, "did not create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(initial, tt.accepted, tt.final)
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
	err := Verify(initial, nil, final)
	if err == nil || !strings.Contains(err.Error(), "and 7 more") || strings.Count(err.Error(), "want 5") != 3 {
		t.Fatalf("Verify of 10 mismatches = %v, want 3 named and 'and 7 more'", err)
	}
}
