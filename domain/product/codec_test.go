package product_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
)

// samples has one event of every type with every field set.
var samples = []product.Event{
	created(7),
	product.Edited{ProductID: pid, Name: "Cup", Price: 9000, At: at},
	status(product.StatusSoldOut, true),
	restocked(3, 10),
	reserved(order1, 2, 8),
	released(order1, 2, 10),
	committed(order2, 4),
}

func TestCodecRoundTripsEveryEvent(t *testing.T) {
	var types []string
	for _, e := range samples {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", e, err)
		}
		got, err := product.Decode(e.EventType(), data)
		if err != nil {
			t.Fatalf("Decode(%q, %s): %v", e.EventType(), data, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("Decode(%q, %s) = %#v, want %#v", e.EventType(), data, got, e)
		}
		types = append(types, e.EventType())
	}
	want := product.EventTypes()
	sort.Strings(types)
	sort.Strings(want)
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("samples cover %v, EventTypes() = %v", types, want)
	}
}

func TestDecodeRefusesUnknownTypesAndBadData(t *testing.T) {
	if e, err := product.Decode("product.melted.v1", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEvent) || e != nil {
		t.Fatalf("Decode(unknown) = %v, %v; want nil, ErrUnknownEvent", e, err)
	}
	if e, err := product.Decode(product.TypeStockReserved, []byte(`{"quantity":"two"}`)); err == nil || e != nil {
		t.Fatalf("Decode(bad quantity) = %v, %v; want an error", e, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range samples {
		data, _ := json.Marshal(e)
		f.Add(e.EventType(), data)
	}
	f.Add("product.melted.v1", []byte(`{}`))
	f.Add(product.TypeCreated, []byte(`{"at":"not a time"}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := product.Decode(typ, data)
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
		e2, err := product.Decode(typ, again)
		if err != nil {
			t.Fatalf("Decode(%q, %s) of its own encoding: %v", typ, again, err)
		}
		if third, _ := json.Marshal(e2); string(third) != string(again) {
			t.Fatalf("encoding not stable: %s then %s", again, third)
		}
	})
}
