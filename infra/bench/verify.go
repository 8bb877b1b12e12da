package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Verify checks a run's products after it: no stock below 0, and every product's final stock
// equal to its initial stock plus what its seller restocked minus the quantities of the accepted
// orders. A product with no final stock is a mismatch too.
func Verify(initial, restocked map[uuid.UUID]int, accepted []Order, final map[uuid.UUID]int) error {
	want := make(map[uuid.UUID]int, len(initial))
	for id, s := range initial {
		want[id] = s + restocked[id]
	}
	for _, o := range accepted {
		for _, l := range o.Lines {
			if _, ok := want[l.ProductID]; !ok {
				return fmt.Errorf("order %s took product %s, which the run did not create", o.ID, l.ProductID)
			}
			want[l.ProductID] -= l.Quantity
		}
	}
	ids := make([]uuid.UUID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	var problems []string
	for _, id := range ids {
		got, ok := final[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("product %s has no final stock", id))
		case got < 0:
			problems = append(problems, fmt.Sprintf("product %s stock %d is below 0", id, got))
		case got != want[id]:
			problems = append(problems, fmt.Sprintf("product %s stock %d, want %d", id, got, want[id]))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	const shown = 3
	msg := strings.Join(problems[:min(shown, len(problems))], "; ")
	if len(problems) > shown {
		msg += fmt.Sprintf("; and %d more", len(problems)-shown)
	}
	return errors.New(msg)
}

// Restocks is what the seller of a run did to one product: restocks of Quantity each, and how
// they were answered.
type Restocks struct {
	Quantity int `json:"quantity"`
	// Sent counts the restocks asked for; Landed those answered done, Conflicts those refused
	// with ErrConflict, Failed the others (any other error).
	Sent      int `json:"sent"`
	Landed    int `json:"landed"`
	Conflicts int `json:"conflicts"`
	Failed    int `json:"failed"`
	// P99Ms is the time from asking for a restock to its answer.
	P99Ms float64 `json:"p99_ms"`
	// FirstError is the first refusal's message.
	FirstError string `json:"first_error,omitempty"`
}

// Ledger is a product's stock history as its stream tells it.
type Ledger struct {
	// Initial is the stock the product was created with.
	Initial int
	// Restocks counts its restock events, Restocked the units they added.
	Restocks  int
	Restocked int
	// Reserved is the units reserved for orders and not released.
	Reserved int
	// Final is the stock after the last event.
	Final int
}

// VerifyRestocks checks the restocks of a run's product: none refused (with a conflict or
// otherwise) and, when the path keeps the product's history (ledger not nil), the history adds
// up: it starts at initial, holds one restock of r.Quantity per landed restock, holds a
// reservation of taken units (what the accepted orders took), and initial + restocked - reserved
// is its final stock.
func VerifyRestocks(r Restocks, initial, taken int, ledger *Ledger) error {
	var problems []string
	if r.Conflicts > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d restocks refused as a conflict", r.Conflicts, r.Sent))
	}
	if r.Failed > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d restocks failed", r.Failed, r.Sent))
	}
	if r.FirstError != "" {
		problems = append(problems, "first refusal: "+r.FirstError)
	}
	if l := ledger; l != nil {
		if l.Initial != initial {
			problems = append(problems, fmt.Sprintf("history starts at stock %d, want %d", l.Initial, initial))
		}
		if l.Restocks != r.Landed || l.Restocked != r.Landed*r.Quantity {
			problems = append(problems, fmt.Sprintf("history holds %d restocks of %d units, want the %d landed of %d each (%d units)",
				l.Restocks, l.Restocked, r.Landed, r.Quantity, r.Landed*r.Quantity))
		}
		if l.Reserved != taken {
			problems = append(problems, fmt.Sprintf("history holds %d units reserved, want the %d the accepted orders took", l.Reserved, taken))
		}
		if got := l.Initial + l.Restocked - l.Reserved; got != l.Final {
			problems = append(problems, fmt.Sprintf("initial %d + restocked %d - reserved %d = %d, but the final stock is %d",
				l.Initial, l.Restocked, l.Reserved, got, l.Final))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("restocks: " + strings.Join(problems, "; "))
}
