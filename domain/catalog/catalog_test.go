package catalog_test

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
	"github.com/commerce-dev/commerce/domain/catalog"
)

var (
	at         = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	catID      = uuid.MustParse("00000000-0000-0000-0000-0000000000c2")
	catID2     = uuid.MustParse("00000000-0000-0000-0000-0000000000c4")
	brandID    = uuid.MustParse("00000000-0000-0000-0000-0000000000c3")
	itemID     = uuid.MustParse("00000000-0000-0000-0000-0000000000c1")
	supervisor = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000e1"), Role: domain.RoleSupervisor}
	seller     = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000b1"), Role: domain.RoleSeller}
	user       = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000f1"), Role: domain.RoleUser}
)

// Histories used as "given".

var (
	catCreated   = catalog.CategoryCreated{CategoryID: catID, Name: "Kitchen", At: at}
	catRenamed   = catalog.CategoryRenamed{CategoryID: catID, Name: "Home", At: at}
	brandCreated = catalog.BrandCreated{BrandID: brandID, Name: "Acme", At: at}
	brandRenamed = catalog.BrandRenamed{BrandID: brandID, Name: "Acme Co", At: at}
	itemCreated  = catalog.ItemCreated{ItemID: itemID, CategoryID: catID, BrandID: brandID, Name: "Mug", Description: "350 ml", At: at}
	itemEdited   = catalog.ItemEdited{ItemID: itemID, CategoryID: catID2, BrandID: brandID, Name: "Big mug", Description: "", At: at}
)

type decisionTest struct {
	name    string
	given   []catalog.Event
	when    func(given []catalog.Event) ([]catalog.Event, error) // folds given into the aggregate it decides on
	want    []catalog.Event
	wantErr error
}

func run(t *testing.T, tests []decisionTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.when(tt.given)
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

func history(events ...catalog.Event) []catalog.Event { return events }

func code(kind domain.Kind, c string) error { return &domain.Error{Kind: kind, Code: c} }

var (
	errSupervisorOnly = code(domain.Forbidden, catalog.CodeSupervisorOnly)
	errValidation     = code(domain.Invalid, domain.CodeValidation)
)

func TestCategory(t *testing.T) {
	create := func(a domain.Actor, id uuid.UUID, name string) func([]catalog.Event) ([]catalog.Event, error) {
		return func([]catalog.Event) ([]catalog.Event, error) { return catalog.CreateCategory(a, id, name, at) }
	}
	rename := func(a domain.Actor, name string) func([]catalog.Event) ([]catalog.Event, error) {
		return func(g []catalog.Event) ([]catalog.Event, error) {
			return catalog.FoldCategory(g...).Rename(a, name, at)
		}
	}
	run(t, []decisionTest{
		{name: "a supervisor creates a category, name trimmed", when: create(supervisor, catID, " Kitchen "),
			want: []catalog.Event{catCreated}},
		{name: "50 characters are allowed", when: create(supervisor, catID, strings.Repeat("부", 50)),
			want: []catalog.Event{catalog.CategoryCreated{CategoryID: catID, Name: strings.Repeat("부", 50), At: at}}},
		{name: "51 characters are invalid", when: create(supervisor, catID, strings.Repeat("부", 51)), wantErr: errValidation},
		{name: "a blank name is invalid", when: create(supervisor, catID, "  "), wantErr: errValidation},
		{name: "a nil id is invalid", when: create(supervisor, uuid.Nil, "Kitchen"), wantErr: errValidation},
		{name: "a seller cannot create", when: create(seller, catID, "Kitchen"), wantErr: errSupervisorOnly},
		{name: "a user cannot create", when: create(user, catID, "Kitchen"), wantErr: errSupervisorOnly},
		{name: "a supervisor renames", given: history(catCreated), when: rename(supervisor, "Home"),
			want: []catalog.Event{catRenamed}},
		{name: "the same name changes nothing", given: history(catCreated), when: rename(supervisor, "Kitchen "), want: nil},
		{name: "renaming to blank is invalid", given: history(catCreated), when: rename(supervisor, ""), wantErr: errValidation},
		{name: "a seller cannot rename", given: history(catCreated), when: rename(seller, "Home"), wantErr: errSupervisorOnly},
		{name: "an unknown category is not found", when: rename(supervisor, "Home"),
			wantErr: code(domain.NotFound, catalog.CodeCategoryNotFound)},
	})
}

func TestBrand(t *testing.T) {
	create := func(a domain.Actor, id uuid.UUID, name string) func([]catalog.Event) ([]catalog.Event, error) {
		return func([]catalog.Event) ([]catalog.Event, error) { return catalog.CreateBrand(a, id, name, at) }
	}
	rename := func(a domain.Actor, name string) func([]catalog.Event) ([]catalog.Event, error) {
		return func(g []catalog.Event) ([]catalog.Event, error) { return catalog.FoldBrand(g...).Rename(a, name, at) }
	}
	run(t, []decisionTest{
		{name: "a supervisor creates a brand", when: create(supervisor, brandID, "Acme"), want: []catalog.Event{brandCreated}},
		{name: "51 characters are invalid", when: create(supervisor, brandID, strings.Repeat("a", 51)), wantErr: errValidation},
		{name: "a nil id is invalid", when: create(supervisor, uuid.Nil, "Acme"), wantErr: errValidation},
		{name: "a seller cannot create", when: create(seller, brandID, "Acme"), wantErr: errSupervisorOnly},
		{name: "a supervisor renames", given: history(brandCreated), when: rename(supervisor, "Acme Co"),
			want: []catalog.Event{brandRenamed}},
		{name: "the same name changes nothing", given: history(brandCreated), when: rename(supervisor, "Acme"), want: nil},
		{name: "a 51-character name is invalid", given: history(brandCreated), when: rename(supervisor, strings.Repeat("a", 51)),
			wantErr: errValidation},
		{name: "a user cannot rename", given: history(brandCreated), when: rename(user, "Acme Co"), wantErr: errSupervisorOnly},
		{name: "an unknown brand is not found", when: rename(supervisor, "Acme Co"),
			wantErr: code(domain.NotFound, catalog.CodeBrandNotFound)},
	})
}

func TestItem(t *testing.T) {
	create := func(a domain.Actor, name, desc string) func([]catalog.Event) ([]catalog.Event, error) {
		return func([]catalog.Event) ([]catalog.Event, error) {
			return catalog.CreateItem(a, itemID, catID, brandID, name, desc, at)
		}
	}
	edit := func(a domain.Actor, category uuid.UUID, name, desc string) func([]catalog.Event) ([]catalog.Event, error) {
		return func(g []catalog.Event) ([]catalog.Event, error) {
			return catalog.FoldItem(g...).Edit(a, category, brandID, name, desc, at)
		}
	}
	long := strings.Repeat("설", catalog.MaxDescriptionLen)
	run(t, []decisionTest{
		{name: "a supervisor creates an item", when: create(supervisor, "Mug", "350 ml"), want: []catalog.Event{itemCreated}},
		{name: "a 2,000-character description is allowed", when: create(supervisor, "Mug", long),
			want: []catalog.Event{catalog.ItemCreated{ItemID: itemID, CategoryID: catID, BrandID: brandID, Name: "Mug", Description: long, At: at}}},
		{name: "a 2,001-character description is invalid", when: create(supervisor, "Mug", long+"!"), wantErr: errValidation},
		{name: "a 101-character name is invalid", when: create(supervisor, strings.Repeat("m", 101), ""), wantErr: errValidation},
		{name: "a seller cannot create", when: create(seller, "Mug", ""), wantErr: errSupervisorOnly},
		{name: "a supervisor edits every field", given: history(itemCreated), when: edit(supervisor, catID2, "Big mug", ""),
			want: []catalog.Event{itemEdited}},
		{name: "the same values change nothing", given: history(itemCreated), when: edit(supervisor, catID, "Mug", "350 ml"), want: nil},
		{name: "a nil category is invalid", given: history(itemCreated), when: edit(supervisor, uuid.Nil, "Mug", ""), wantErr: errValidation},
		{name: "a seller cannot edit", given: history(itemCreated), when: edit(seller, catID, "Mug", ""), wantErr: errSupervisorOnly},
		{name: "an unknown item is not found", when: edit(supervisor, catID, "Mug", ""),
			wantErr: code(domain.NotFound, catalog.CodeItemNotFound)},
	})
}

func TestCreateItemNamesEveryFailingField(t *testing.T) {
	_, err := catalog.CreateItem(supervisor, uuid.Nil, uuid.Nil, uuid.Nil, "", strings.Repeat("x", 2001), at)
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("CreateItem error = %v, want *domain.Error", err)
	}
	var got []string
	for f := range de.Fields {
		got = append(got, f)
	}
	sort.Strings(got)
	if want := []string{"brand_id", "category_id", "description", "item_id", "name"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CreateItem Fields = %v, want %v", got, want)
	}
}

type unknownEvent struct{}

func (unknownEvent) EventType() string { return "catalog.unknown.v1" }

func TestEvolve(t *testing.T) {
	all := []catalog.Event{catCreated, brandCreated, itemCreated, catRenamed, brandRenamed, itemEdited, unknownEvent{}}
	if got, want := catalog.FoldCategory(all...), (catalog.Category{ID: catID, Name: "Home"}); got != want || !got.Exists() {
		t.Fatalf("FoldCategory = %+v, want %+v", got, want)
	}
	if got, want := catalog.FoldBrand(all...), (catalog.Brand{ID: brandID, Name: "Acme Co"}); got != want || !got.Exists() {
		t.Fatalf("FoldBrand = %+v, want %+v", got, want)
	}
	if got, want := catalog.FoldItem(all...), (catalog.Item{ID: itemID, CategoryID: catID2, BrandID: brandID, Name: "Big mug"}); got != want || !got.Exists() {
		t.Fatalf("FoldItem = %+v, want %+v", got, want)
	}
	for _, s := range []any{catalog.FoldCategory(all...), catalog.FoldBrand(all...), catalog.FoldItem(all...)} {
		b, _ := json.Marshal(s)
		back := reflect.New(reflect.TypeOf(s))
		if err := json.Unmarshal(b, back.Interface()); err != nil || !reflect.DeepEqual(back.Elem().Interface(), s) {
			t.Fatalf("%T through JSON %s = %+v, %v", s, b, back.Elem().Interface(), err)
		}
	}
}

func TestStreamIDs(t *testing.T) {
	for got, want := range map[string]string{
		catalog.CategoryStreamID(catID): "category-" + catID.String(),
		catalog.BrandStreamID(brandID):  "brand-" + brandID.String(),
		catalog.ItemStreamID(itemID):    "item-" + itemID.String(),
	} {
		if got != want {
			t.Errorf("stream id = %q, want %q", got, want)
		}
	}
}

var samples = []catalog.Event{catCreated, catRenamed, brandCreated, brandRenamed, itemCreated, itemEdited}

func TestCodecRoundTripsEveryEvent(t *testing.T) {
	var types []string
	for _, e := range samples {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", e, err)
		}
		got, err := catalog.Decode(e.EventType(), data)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("Decode(%q, %s) = %#v, %v; want %#v", e.EventType(), data, got, err, e)
		}
		types = append(types, e.EventType())
	}
	want := catalog.EventTypes()
	sort.Strings(types)
	sort.Strings(want)
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("samples cover %v, EventTypes() = %v", types, want)
	}
	if e, err := catalog.Decode("catalog.shelf_added.v1", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEvent) || e != nil {
		t.Fatalf("Decode(unknown) = %v, %v; want nil, ErrUnknownEvent", e, err)
	}
	if e, err := catalog.Decode(catalog.TypeItemCreated, []byte(`{"item_id":"not-a-uuid"}`)); err == nil || e != nil {
		t.Fatalf("Decode(bad id) = %v, %v; want an error", e, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range samples {
		data, _ := json.Marshal(e)
		f.Add(e.EventType(), data)
	}
	f.Add("catalog.shelf_added.v1", []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := catalog.Decode(typ, data)
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
		e2, err := catalog.Decode(typ, again)
		if err != nil {
			t.Fatalf("Decode(%q, %s) of its own encoding: %v", typ, again, err)
		}
		if third, _ := json.Marshal(e2); string(third) != string(again) {
			t.Fatalf("encoding not stable: %s then %s", again, third)
		}
	})
}
