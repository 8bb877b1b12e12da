package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Verify checks a run's products after it: no stock below 0, and every product's final stock
// equal to its initial stock minus the quantities of the accepted orders. A product with no
// final stock is a mismatch too.
func Verify(initial map[uuid.UUID]int, accepted []Order, final map[uuid.UUID]int) error {
	want := make(map[uuid.UUID]int, len(initial))
	for id, s := range initial {
		want[id] = s
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
