package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/commerce-dev/commerce/domain"
)

type testEvent interface{ EventType() string }

type opened struct {
	N int `json:"n"`
}

func (opened) EventType() string { return "test.opened.v1" }

type closed struct{}

func (closed) EventType() string { return "test.closed.v1" }

type notAnEvent struct{}

func (notAnEvent) EventType() string { return "test.other.v1" }

// sealedEvent is an event interface notAnEvent does not satisfy.
type sealedEvent interface {
	EventType() string
	sealed()
}

func TestCodec(t *testing.T) {
	c := domain.NewCodec(domain.Type[testEvent, opened](), domain.Type[testEvent, closed]())
	if got, want := c.Types(), []string{"test.opened.v1", "test.closed.v1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	e, err := c.Decode("test.opened.v1", []byte(`{"n":7}`))
	if err != nil || e != (opened{N: 7}) {
		t.Fatalf("Decode(opened) = %#v, %v; want opened{N: 7}", e, err)
	}
	if _, err := c.Decode("test.gone.v1", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEvent) {
		t.Fatalf("Decode(unknown type) = %v, want ErrUnknownEvent", err)
	}
	if _, err := c.Decode("test.opened.v1", []byte(`{"n":"seven"}`)); err == nil {
		t.Fatal("Decode(opened with a string for n) = nil error, want the JSON error")
	}
}

func TestCodecRefusesMistakes(t *testing.T) {
	for name, build := range map[string]func(){
		"a type that is not an event of the codec": func() { domain.Type[sealedEvent, notAnEvent]() },
		"one wire name twice": func() {
			domain.NewCodec(domain.Type[testEvent, opened](), domain.Type[testEvent, opened]())
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("%s: no panic", name)
				}
			}()
			build()
		})
	}
}

// TestCodecReadsWhatEncodingJSONReads checks that the codec keeps encoding/json's leniency, so
// that every event stored so far still decodes: names in another case, a name twice (the last
// wins) and invalid UTF-8 (replaced by U+FFFD).
func TestCodecReadsWhatEncodingJSONReads(t *testing.T) {
	c := domain.NewCodec(domain.Type[testEvent, named]())
	for _, tt := range []struct {
		data string
		want named
	}{
		{`{"NAME":"a"}`, named{Name: "a"}},
		{`{"name":"a","name":"b"}`, named{Name: "b"}},
		{"{\"name\":\"a\xffb\"}", named{Name: "a\ufffdb"}},
		{`{"name":"a","extra":[1,{"x":null}]}`, named{Name: "a"}},
	} {
		var want named
		if err := json.Unmarshal([]byte(tt.data), &want); err != nil || want != tt.want {
			t.Fatalf("json.Unmarshal(%q) = %#v, %v; the test expects %#v", tt.data, want, err, tt.want)
		}
		got, err := c.Decode("test.named.v1", []byte(tt.data))
		if err != nil || got != tt.want {
			t.Errorf("Decode(%q) = %#v, %v; want %#v as encoding/json gives", tt.data, got, err, tt.want)
		}
	}
}

type named struct {
	Name string `json:"name"`
}

func (named) EventType() string { return "test.named.v1" }
