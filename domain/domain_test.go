package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
)

func TestErrorMatchesByKindAndCode(t *testing.T) {
	err := fmt.Errorf("reserve: %w", domain.Conflictf("OUT_OF_STOCK", "only %d left", 2))
	tests := []struct {
		target error
		want   bool
	}{
		{domain.ErrConflict, true},
		{&domain.Error{Kind: domain.Conflict, Code: "OUT_OF_STOCK"}, true},
		{&domain.Error{Kind: domain.Conflict, Code: "NOT_ON_SALE"}, false},
		{domain.ErrInvalid, false},
		{domain.ErrNotFound, false},
		{domain.ErrForbidden, false},
		{(*domain.Error)(nil), false},
		{errors.New("conflict"), false},
	}
	for _, tt := range tests {
		if got := errors.Is(err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%v, %#v) = %t, want %t", err, tt.target, got, tt.want)
		}
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Message != "only 2 left" || err.Error() != "reserve: only 2 left" {
		t.Fatalf("wrapped error = %q (%+v)", err, de)
	}
}

func TestConstructorsSetTheirKind(t *testing.T) {
	for _, tt := range []struct {
		err  *domain.Error
		kind domain.Kind
		is   error
	}{
		{domain.Invalidf("C", "m"), domain.Invalid, domain.ErrInvalid},
		{domain.NotFoundf("C", "m"), domain.NotFound, domain.ErrNotFound},
		{domain.Conflictf("C", "m"), domain.Conflict, domain.ErrConflict},
		{domain.Forbiddenf("C", "m"), domain.Forbidden, domain.ErrForbidden},
	} {
		if tt.err.Kind != tt.kind || tt.err.Code != "C" || !errors.Is(tt.err, tt.is) {
			t.Errorf("constructor gave %+v, want kind %s code C", tt.err, tt.kind)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  *domain.Error
		want string
	}{
		{&domain.Error{Kind: domain.Conflict, Code: "X", Message: "msg"}, "msg"},
		{&domain.Error{Kind: domain.Conflict, Code: "X"}, "X"},
		{&domain.Error{Kind: domain.Forbidden}, "forbidden"},
		{&domain.Error{Kind: domain.Invalid}, "invalid"},
		{&domain.Error{Kind: domain.NotFound}, "not found"},
		{&domain.Error{Kind: domain.Conflict}, "conflict"},
		{&domain.Error{Kind: 9}, "kind(9)"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestFieldsNamesEveryFailingField(t *testing.T) {
	f := make(domain.Fields)
	if err := f.Err(); err != nil {
		t.Fatalf("empty Fields.Err() = %v, want nil", err)
	}
	f.Text("name", "  ", 1, 50)
	f.Text("nick", strings.Repeat("가", 51), 1, 50)
	f.Text("fine", strings.Repeat("가", 50), 1, 50) // 150 bytes, 50 characters
	f.Text("optional", "", 0, 10)
	f.Range("price", 0, 1, 100)
	f.Range("stock", 100, 0, 100)
	f.ID("item_id", uuid.Nil)
	f.ID("brand_id", uuid.MustParse("00000000-0000-0000-0000-000000000001"))
	err := f.Err()
	var de *domain.Error
	if !errors.As(err, &de) || !errors.Is(err, domain.ErrInvalid) || de.Code != domain.CodeValidation {
		t.Fatalf("Fields.Err() = %#v, want an Invalid VALIDATION error", err)
	}
	want := map[string]string{
		"name":    "must not be blank",
		"nick":    "must be 1 to 50 characters",
		"price":   "must be between 1 and 100",
		"item_id": "must be a non-nil id",
	}
	if !reflect.DeepEqual(de.Fields, want) {
		t.Fatalf("Fields = %v, want %v", de.Fields, want)
	}
	if want := "invalid item_id must be a non-nil id; name must not be blank; nick must be 1 to 50 characters; price must be between 1 and 100"; de.Message != want {
		t.Fatalf("Message = %q, want %q", de.Message, want)
	}
	f["late"] = "added after"
	if _, ok := de.Fields["late"]; ok {
		t.Fatalf("the error shares its Fields with the collector")
	}
}

func TestActor(t *testing.T) {
	id := uuid.MustParse("00000000-0000-0000-0000-000000000001")
	other := uuid.MustParse("00000000-0000-0000-0000-000000000002")
	seller := domain.Actor{ID: id, Role: domain.RoleSeller}
	super := domain.Actor{ID: other, Role: domain.RoleSupervisor}
	user := domain.Actor{ID: id, Role: domain.RoleUser}
	checks := []struct {
		name      string
		got, want bool
	}{
		{"seller acts for itself", seller.ActsForSeller(id), true},
		{"seller does not act for another", seller.ActsForSeller(other), false},
		{"supervisor acts for any seller", super.ActsForSeller(id), true},
		{"user with the seller's id does not act for it", user.ActsForSeller(id), false},
		{"user is itself", user.IsUser(id), true},
		{"seller with the user's id is not the user", seller.IsUser(id), false},
		{"supervisor is a supervisor", super.IsSupervisor(), true},
		{"seller is not a supervisor", seller.IsSupervisor(), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %t", c.name, c.got)
		}
	}
}

func TestAggregateType(t *testing.T) {
	for in, want := range map[string]string{
		"product-00000000-0000-0000-0000-000000000001": "product",
		"order-x": "order",
		"plain":   "plain",
	} {
		if got := domain.AggregateType(in); got != want {
			t.Errorf("AggregateType(%q) = %q, want %q", in, got, want)
		}
	}
}
