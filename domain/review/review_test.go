package review_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
)

var (
	at        = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	later     = at.Add(time.Hour)
	rid       = uuid.MustParse("00000000-0000-0000-0000-0000000000c1")
	oid       = uuid.MustParse("00000000-0000-0000-0000-0000000000d1")
	pid       = uuid.MustParse("00000000-0000-0000-0000-0000000000a1")
	userID    = uuid.MustParse("00000000-0000-0000-0000-0000000000f1")
	author    = domain.Actor{ID: userID, Role: domain.RoleUser}
	otherUser = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000f2"), Role: domain.RoleUser}
	seller    = domain.Actor{ID: userID, Role: domain.RoleSeller} // the author's id with another role
)

func writeCmd() review.Write {
	return review.Write{ReviewID: rid, OrderID: oid, Line: 2, ProductID: pid, OrderUserID: userID,
		LineStatus: order.LineAccept, Delivery: order.DeliveryComplete, Rating: 4, Content: "Good mug", At: at}
}

// Histories used as "given".

var (
	written = review.Written{ReviewID: rid, OrderID: oid, Line: 2, ProductID: pid, UserID: userID, Rating: 4, Content: "Good mug", At: at}
	edited  = review.Edited{ReviewID: rid, ProductID: pid, UserID: userID, Rating: 2, Content: "Cracked", At: later}
	deleted = review.Deleted{ReviewID: rid, ProductID: pid, UserID: userID, At: later}
)

func history(events ...review.Event) []review.Event { return events }

type decisionTest struct {
	name    string
	given   []review.Event
	when    func(review.Review) ([]review.Event, error)
	want    []review.Event
	wantErr error
}

func run(t *testing.T, tests []decisionTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.when(review.Fold(tt.given...))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("error = %v, want none", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func code(kind domain.Kind, c string) error { return &domain.Error{Kind: kind, Code: c} }

var (
	errNotFound      = code(domain.NotFound, review.CodeNotFound)
	errOrderNotFound = code(domain.NotFound, review.CodeOrderNotFound)
	errReviewed      = code(domain.Conflict, review.CodeReviewed)
	errNotReviewable = code(domain.Invalid, review.CodeNotReviewable)
	errValidation    = code(domain.Invalid, domain.CodeValidation)
)

func TestWrite(t *testing.T) {
	write := func(f func(*review.Write)) func(review.Review) ([]review.Event, error) {
		return func(r review.Review) ([]review.Event, error) { c := writeCmd(); f(&c); return r.Write(author, c) }
	}
	long := strings.Repeat("좋", review.MaxContentLen) // 2,000 characters, 6,000 bytes
	run(t, []decisionTest{
		{name: "the order's user reviews an accepted, delivered line", given: nil,
			when: write(func(c *review.Write) { c.Content = "  Good mug\n" }), want: []review.Event{written}},
		{name: "2,000 characters of content are allowed whatever their bytes", given: nil,
			when: write(func(c *review.Write) { c.Content, c.Rating = long, 5 }),
			want: []review.Event{review.Written{ReviewID: rid, OrderID: oid, Line: 2, ProductID: pid, UserID: userID, Rating: 5, Content: long, At: at}}},
		{name: "2,001 characters are invalid", given: nil,
			when: write(func(c *review.Write) { c.Content = long + "!" }), wantErr: errValidation},
		{name: "blank content is invalid", given: nil,
			when: write(func(c *review.Write) { c.Content = " \n " }), wantErr: errValidation},
		{name: "rating 0 is invalid", given: nil, when: write(func(c *review.Write) { c.Rating = 0 }), wantErr: errValidation},
		{name: "rating 6 is invalid", given: nil, when: write(func(c *review.Write) { c.Rating = 6 }), wantErr: errValidation},
		{name: "line 0 is invalid", given: nil, when: write(func(c *review.Write) { c.Line = 0 }), wantErr: errValidation},
		{name: "a line not yet delivered cannot be reviewed", given: nil,
			when: write(func(c *review.Write) { c.Delivery = order.DeliveryShipping }), wantErr: errNotReviewable},
		{name: "a cancelled line cannot be reviewed", given: nil,
			when: write(func(c *review.Write) { c.LineStatus = order.LineCancel }), wantErr: errNotReviewable},
		{name: "an ORDER line cannot be reviewed", given: nil,
			when: write(func(c *review.Write) { c.LineStatus, c.Delivery = order.LineOrder, order.DeliveryReady }), wantErr: errNotReviewable},
		{name: "a rejected line cannot be reviewed", given: nil,
			when: write(func(c *review.Write) { c.LineStatus = order.LineReject }), wantErr: errNotReviewable},
		{name: "a CANCELING line cannot be reviewed", given: nil,
			when: write(func(c *review.Write) { c.LineStatus = order.LineCanceling }), wantErr: errNotReviewable},
		{name: "a line of an order never confirmed cannot be reviewed", given: nil,
			when: write(func(c *review.Write) { c.LineStatus, c.Delivery = "", "" }), wantErr: errNotReviewable},
		{name: "a line with a review cannot get a second", given: history(written),
			when: write(func(*review.Write) {}), wantErr: errReviewed},
		{name: "a line whose review was deleted can be reviewed again", given: history(written, deleted),
			when: write(func(c *review.Write) { c.At = later }),
			want: []review.Event{review.Written{ReviewID: rid, OrderID: oid, Line: 2, ProductID: pid, UserID: userID, Rating: 4, Content: "Good mug", At: later}}},
		{name: "another user's order is not found", given: nil,
			when: func(r review.Review) ([]review.Event, error) { return r.Write(otherUser, writeCmd()) }, wantErr: errOrderNotFound},
		{name: "a seller cannot review", given: nil,
			when: func(r review.Review) ([]review.Event, error) { return r.Write(seller, writeCmd()) }, wantErr: errOrderNotFound},
	})
}

func TestEditAndDelete(t *testing.T) {
	edit := func(a domain.Actor, rating int, content string) func(review.Review) ([]review.Event, error) {
		return func(r review.Review) ([]review.Event, error) { return r.Edit(a, rating, content, later) }
	}
	del := func(a domain.Actor) func(review.Review) ([]review.Event, error) {
		return func(r review.Review) ([]review.Event, error) { return r.Delete(a, later) }
	}
	run(t, []decisionTest{
		{name: "the author edits", given: history(written), when: edit(author, 2, "Cracked "), want: []review.Event{edited}},
		{name: "the same rating and content change nothing", given: history(written), when: edit(author, 4, "Good mug"), want: nil},
		{name: "another user's edit finds nothing", given: history(written), when: edit(otherUser, 2, "Cracked"), wantErr: errNotFound},
		{name: "an edit with rating 9 is invalid", given: history(written), when: edit(author, 9, "Cracked"), wantErr: errValidation},
		{name: "a deleted review cannot be edited", given: history(written, deleted), when: edit(author, 2, "Cracked"), wantErr: errNotFound},
		{name: "an unknown review cannot be edited", given: nil, when: edit(author, 2, "Cracked"), wantErr: errNotFound},
		{name: "the author deletes", given: history(written, edited), when: del(author), want: []review.Event{deleted}},
		{name: "another user's delete finds nothing", given: history(written), when: del(otherUser), wantErr: errNotFound},
		{name: "a deleted review is not found", given: history(written, deleted), when: del(author), wantErr: errNotFound},
	})
}

func TestEvolve(t *testing.T) {
	r := review.Fold(written, edited)
	want := review.Review{ID: rid, OrderID: oid, Line: 2, ProductID: pid, UserID: userID, Rating: 2, Content: "Cracked",
		CreatedAt: at, UpdatedAt: later}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Fold(written, edited) = %+v, want %+v", r, want)
	}
	if d := review.Evolve(r, deleted); !d.Deleted || !d.Exists() || d.UpdatedAt != later {
		t.Fatalf("Evolve(deleted) = %+v, want Deleted", d)
	}
	if got := review.Evolve(r, unknownEvent{}); !reflect.DeepEqual(got, r) {
		t.Fatalf("Evolve(unknown) = %+v, want unchanged", got)
	}
	b, _ := json.Marshal(r)
	var back review.Review
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("state through JSON %s = %+v, %v", b, back, err)
	}
	if got := review.StreamID(rid); got != "review-"+rid.String() {
		t.Fatalf("StreamID = %q", got)
	}
}

type unknownEvent struct{}

func (unknownEvent) EventType() string { return "review.unknown.v1" }

var samples = []review.Event{written, edited, deleted}

func TestCodecRoundTripsEveryEvent(t *testing.T) {
	var types []string
	for _, e := range samples {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", e, err)
		}
		got, err := review.Decode(e.EventType(), data)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("Decode(%q, %s) = %#v, %v; want %#v", e.EventType(), data, got, err, e)
		}
		types = append(types, e.EventType())
	}
	want := review.EventTypes()
	sort.Strings(types)
	sort.Strings(want)
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("samples cover %v, EventTypes() = %v", types, want)
	}
	if e, err := review.Decode("review.liked.v1", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEvent) || e != nil {
		t.Fatalf("Decode(unknown) = %v, %v; want nil, ErrUnknownEvent", e, err)
	}
	if e, err := review.Decode(review.TypeWritten, []byte(`{"rating":"five"}`)); err == nil || e != nil {
		t.Fatalf("Decode(bad rating) = %v, %v; want an error", e, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range samples {
		data, _ := json.Marshal(e)
		f.Add(e.EventType(), data)
	}
	f.Add("review.liked.v1", []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := review.Decode(typ, data)
		if err != nil {
			return
		}
		if e.EventType() != typ {
			t.Fatalf("Decode(%q) gave a %q event", typ, e.EventType())
		}
		again, err := json.Marshal(e)
		if err != nil {
			return // a decoded time can be outside what json.Marshal writes
		}
		e2, err := review.Decode(typ, again)
		if err != nil {
			t.Fatalf("Decode(%q, %s) of its own encoding: %v", typ, again, err)
		}
		if third, _ := json.Marshal(e2); string(third) != string(again) {
			t.Fatalf("encoding not stable: %s then %s", again, third)
		}
	})
}
