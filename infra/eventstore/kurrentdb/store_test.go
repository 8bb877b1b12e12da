package kurrentdb

import (
	"math"
	"os"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/eventstoretest"
)

// TestContract runs the contract suite against the server KURRENTDB_URL names
// (esdb://localhost:2113?tls=false with docker compose). No server can run on the development
// machines, so without KURRENTDB_URL the run is skipped, and says so: this is the project's only
// skipped test.
func TestContract(t *testing.T) {
	url := os.Getenv("KURRENTDB_URL")
	if url == "" {
		t.Skip("KURRENTDB_URL is not set: the KurrentDB contract run needs a KurrentDB server (docker compose up kurrentdb, then KURRENTDB_URL=esdb://localhost:2113?tls=false)")
	}
	s, err := Dial(url)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", url, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v", err)
	}
	eventstoretest.Run(t, func(*testing.T) eventstore.Store { return s })
}

func TestRevisionMapping(t *testing.T) {
	for _, tt := range []struct {
		version  int64
		revision uint64
	}{{1, 0}, {2, 1}, {10, 9}, {math.MaxInt64, math.MaxInt64 - 1}} {
		if got := revisionOf(tt.version); got != tt.revision {
			t.Errorf("revisionOf(%d) = %d, want %d", tt.version, got, tt.revision)
		}
		if got := versionOf(tt.revision); got != tt.version {
			t.Errorf("versionOf(%d) = %d, want %d", tt.revision, got, tt.version)
		}
	}
}

func TestExpectedRevision(t *testing.T) {
	tests := []struct {
		expected eventstore.ExpectedVersion
		want     esdb.ExpectedRevision
	}{
		{eventstore.Any, esdb.Any{}},
		{eventstore.NoStream, esdb.NoStream{}},
		{eventstore.Exact(0), esdb.NoStream{}},
		{eventstore.StreamExists, esdb.StreamExists{}},
		{eventstore.Exact(1), esdb.Revision(0)},
		{eventstore.Exact(7), esdb.Revision(6)},
	}
	for _, tt := range tests {
		if got, ok := expectedRevision(tt.expected); !ok || got != tt.want {
			t.Errorf("expectedRevision(%s) = %#v, %v; want %#v, true", tt.expected, got, ok, tt.want)
		}
	}
	if got, ok := expectedRevision(eventstore.Exact(-1)); ok {
		t.Errorf("expectedRevision(Exact(-1)) = %#v, true; want false: no revision stands for it", got)
	}
}

func TestRecordPosition(t *testing.T) {
	tests := []struct {
		name string
		pos  esdb.Position
		want eventstore.Position
	}{
		{"read from $all", esdb.Position{Commit: 4096, Prepare: 4096}, 4096},
		{"read from a stream, no commit position", esdb.Position{Commit: math.MaxUint64, Prepare: 8192}, 8192},
	}
	for _, tt := range tests {
		r := record(&esdb.RecordedEvent{EventNumber: 4, Position: tt.pos, StreamID: "s", EventType: "t"})
		if r.Position != tt.want || r.Version != 5 {
			t.Errorf("%s: record(revision 4, %+v) = version %d, position %d; want 5, %d", tt.name, tt.pos, r.Version, r.Position, tt.want)
		}
	}
}

func TestDialSchemes(t *testing.T) {
	for _, url := range []string{"esdb://localhost:2113?tls=false", "kurrentdb://localhost:2113?tls=false"} {
		s, err := Dial(url)
		if err != nil {
			t.Fatalf("Dial(%s) = %v", url, err)
		}
		_ = s.Close()
	}
	if _, err := Dial("http://localhost:2113"); err == nil {
		t.Fatal("Dial of an http:// URL succeeded, want an error")
	}
}
