package order_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
)

// samples has one event of every type with every field set.
var samples = []order.Event{placed, confirmed, rejected, accepted1, refused1, shipped1, delivered, canceling, cancelled}

func TestCodecRoundTripsEveryEvent(t *testing.T) {
	var types []string
	for _, e := range samples {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", e, err)
		}
		got, err := order.Decode(e.EventType(), data)
		if err != nil {
			t.Fatalf("Decode(%q, %s): %v", e.EventType(), data, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("Decode(%q, %s) = %#v, want %#v", e.EventType(), data, got, e)
		}
		types = append(types, e.EventType())
	}
	want := order.EventTypes()
	sort.Strings(types)
	sort.Strings(want)
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("samples cover %v, EventTypes() = %v", types, want)
	}
}

func TestLineEventsAreFlatJSON(t *testing.T) {
	data, _ := json.Marshal(refused1)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"order_id", "user_id", "line", "product_id", "seller_id", "quantity", "at", "reason"} {
		if _, ok := m[k]; !ok {
			t.Errorf("LineRejected JSON %s has no %q", data, k)
		}
	}
}

func TestDecodeRefusesUnknownTypesAndBadData(t *testing.T) {
	if e, err := order.Decode("order.lost.v1", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEvent) || e != nil {
		t.Fatalf("Decode(unknown) = %v, %v; want nil, ErrUnknownEvent", e, err)
	}
	if e, err := order.Decode(order.TypePlaced, []byte(`{"lines":{}}`)); err == nil || e != nil {
		t.Fatalf("Decode(bad lines) = %v, %v; want an error", e, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range samples {
		data, _ := json.Marshal(e)
		f.Add(e.EventType(), data)
	}
	f.Add("order.lost.v1", []byte(`{}`))
	f.Add(order.TypePlaced, []byte(`{"lines":[{"number":"x"}]}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := order.Decode(typ, data)
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
		e2, err := order.Decode(typ, again)
		if err != nil {
			t.Fatalf("Decode(%q, %s) of its own encoding: %v", typ, again, err)
		}
		if third, _ := json.Marshal(e2); string(third) != string(again) {
			t.Fatalf("encoding not stable: %s then %s", again, third)
		}
	})
}
