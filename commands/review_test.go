package commands_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/review"
)

func TestReviewCommands(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s, u := seller(), user()
	id := e.placed(s, u)
	e.refused("WriteReview of a line not delivered", &domain.Error{Kind: domain.Invalid, Code: review.CodeNotReviewable}, func() error {
		_, err := e.h.WriteReview.Handle(as(u), commands.WriteReview{OrderID: id, Line: 1, Rating: 5, Content: "good"})
		return err
	})
	for _, step := range []func() error{
		func() error {
			_, err := e.h.AcceptLine.Handle(as(s), commands.AcceptLine{OrderID: id, Line: 1})
			return err
		},
		func() error {
			_, err := e.h.ShipLine.Handle(as(s), commands.ShipLine{OrderID: id, Line: 1})
			return err
		},
		func() error {
			_, err := e.h.DeliverLine.Handle(as(s), commands.DeliverLine{OrderID: id, Line: 1})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatalf("line step: %v", err)
		}
	}
	e.refused("WriteReview by another user", domain.ErrNotFound, func() error {
		_, err := e.h.WriteReview.Handle(as(user()), commands.WriteReview{OrderID: id, Line: 1, Rating: 5, Content: "good"})
		return err
	})
	e.refused("WriteReview of an unknown order", domain.ErrNotFound, func() error {
		_, err := e.h.WriteReview.Handle(as(u), commands.WriteReview{OrderID: uuid.New(), Line: 1, Rating: 5, Content: "good"})
		return err
	})
	e.refused("WriteReview of line 2", domain.ErrNotFound, func() error {
		_, err := e.h.WriteReview.Handle(as(u), commands.WriteReview{OrderID: id, Line: 2, Rating: 5, Content: "good"})
		return err
	})
	e.refused("WriteReview with rating 6 and no content", domain.ErrInvalid, func() error {
		_, err := e.h.WriteReview.Handle(as(u), commands.WriteReview{OrderID: id, Line: 1, Rating: 6})
		return err
	})
	w, err := e.h.WriteReview.Handle(as(u), commands.WriteReview{OrderID: id, Line: 1, Rating: 4, Content: " 좋아요 "})
	if err != nil || w.ID != commands.ReviewID(id, 1) || w.State.Rating != 4 || w.State.Content != "좋아요" || w.State.UserID != u.ID {
		t.Fatalf("WriteReview = %+v, %v; want review %s rating 4 by %s", w, err, commands.ReviewID(id, 1), u.ID)
	}
	e.refused("WriteReview of a line already reviewed", &domain.Error{Kind: domain.Conflict, Code: review.CodeReviewed}, func() error {
		_, err := e.h.WriteReview.Handle(as(u), commands.WriteReview{OrderID: id, Line: 1, Rating: 1, Content: "again"})
		return err
	})
	ed, err := e.h.EditReview.Handle(as(u), commands.EditReview{ReviewID: w.ID, Rating: 2, Content: "meh"})
	if err != nil || ed.State.Rating != 2 || ed.State.Content != "meh" || ed.Version != 2 {
		t.Fatalf("EditReview = %+v, %v; want rating 2, meh, version 2", ed, err)
	}
	e.refused("EditReview by another user", domain.ErrNotFound, func() error {
		_, err := e.h.EditReview.Handle(as(user()), commands.EditReview{ReviewID: w.ID, Rating: 1, Content: "x"})
		return err
	})
	e.refused("DeleteReview by another user", domain.ErrNotFound, func() error {
		_, err := e.h.DeleteReview.Handle(as(user()), commands.DeleteReview{ReviewID: w.ID})
		return err
	})
	del, err := e.h.DeleteReview.Handle(as(u), commands.DeleteReview{ReviewID: w.ID})
	if err != nil || !del.State.Deleted {
		t.Fatalf("DeleteReview = %+v, %v; want deleted", del.State, err)
	}
	e.refused("EditReview of a deleted review", domain.ErrNotFound, func() error {
		_, err := e.h.EditReview.Handle(as(u), commands.EditReview{ReviewID: w.ID, Rating: 1, Content: "x"})
		return err
	})
	if ids := e.stream(review.StreamID(w.ID)); len(ids) != 3 {
		t.Fatalf("review stream has %d events, want written, edited, deleted", len(ids))
	}
}
