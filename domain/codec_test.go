package domain_test

import (
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
