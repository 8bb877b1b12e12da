package readmodels_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/readmodels"
)

func TestReviews(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	p1, p2, u1, u2 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	o1, o2 := uuid.New(), uuid.New()
	r1, r2, r3, r4 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	w.given(
		review.Written{ReviewID: r1, OrderID: o1, Line: 1, ProductID: p1, UserID: u1, Rating: 4, Content: "fine", At: at(1)},
		review.Written{ReviewID: r2, OrderID: o1, Line: 2, ProductID: p2, UserID: u1, Rating: 2, Content: "meh", At: at(2)},
		review.Written{ReviewID: r3, OrderID: o2, Line: 1, ProductID: p1, UserID: u2, Rating: 5, Content: "좋아요", At: at(3)},
		review.Edited{ReviewID: r1, ProductID: p1, UserID: u1, Rating: 3, Content: "fine, mostly", At: at(4)},
		review.Written{ReviewID: r4, OrderID: o2, Line: 2, ProductID: p1, UserID: u2, Rating: 1, Content: "broken", At: at(5)},
		review.Deleted{ReviewID: r4, ProductID: p1, UserID: u2, At: at(6)},
	)
	reviewIDs := func(l readmodels.List[readmodels.Review]) []uuid.UUID {
		return ids(l.Items, func(r readmodels.Review) uuid.UUID { return r.ID })
	}

	tests := []struct {
		name      string
		list      func() (readmodels.List[readmodels.Review], error)
		want      []uuid.UUID
		wantTotal int64
	}{
		{"by product, newest first, deleted gone", func() (readmodels.List[readmodels.Review], error) {
			return w.rm.ListProductReviews(ctx, p1, readmodels.Page{})
		}, []uuid.UUID{r3, r1}, 2},
		{"by product, second page", func() (readmodels.List[readmodels.Review], error) {
			return w.rm.ListProductReviews(ctx, p1, readmodels.Page{Number: 1, Size: 1})
		}, []uuid.UUID{r1}, 2},
		{"by user", func() (readmodels.List[readmodels.Review], error) {
			return w.rm.ListUserReviews(ctx, u1, readmodels.Page{})
		}, []uuid.UUID{r2, r1}, 2},
		{"by user, only live ones", func() (readmodels.List[readmodels.Review], error) {
			return w.rm.ListUserReviews(ctx, u2, readmodels.Page{})
		}, []uuid.UUID{r3}, 1},
		{"unknown product", func() (readmodels.List[readmodels.Review], error) {
			return w.rm.ListProductReviews(ctx, uuid.New(), readmodels.Page{})
		}, []uuid.UUID{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list()
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !reflect.DeepEqual(reviewIDs(got), tt.want) || got.Total != tt.wantTotal {
				t.Fatalf("list = %v total %d, want %v total %d", reviewIDs(got), got.Total, tt.want, tt.wantTotal)
			}
		})
	}

	got, err := w.rm.FindReview(ctx, r1)
	want := readmodels.Review{ID: r1, OrderID: o1, Line: 1, ProductID: p1, UserID: u1, Rating: 3, Content: "fine, mostly",
		CreatedAt: at(1), UpdatedAt: at(4)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("FindReview(r1) = %+v, %v\nwant %+v", got, err, want)
	}
	if _, err := w.rm.FindReview(ctx, r4); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("FindReview(deleted r4) error = %v, want NotFound", err)
	}

	// The same line reviewed again after its review was deleted (the command layer reuses the id).
	w.given(review.Written{ReviewID: r4, OrderID: o2, Line: 2, ProductID: p1, UserID: u2, Rating: 3, Content: "replaced", At: at(7)})
	again, err := w.rm.FindReview(ctx, r4)
	if err != nil || again.Content != "replaced" || !again.CreatedAt.Equal(at(7)) {
		t.Fatalf("FindReview(r4) after writing it again = %+v, %v; want the new review", again, err)
	}
}
