package snapshot_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

func TestSaveKeepsLatestVersionPerSchema(t *testing.T) {
	ctx := context.Background()
	store := snapshot.New(pgtest.New(t))
	if _, ok, err := store.Load(ctx, "product-x", 1); err != nil || ok {
		t.Fatalf("Load of a stream without snapshot = ok %v, %v; want false, nil", ok, err)
	}
	save := func(version int64, schema int, state string) {
		t.Helper()
		err := store.Save(ctx, commands.Snapshot{Stream: "product-x", Version: version, Position: 7, Schema: schema, State: json.RawMessage(state)})
		if err != nil {
			t.Fatalf("Save version %d schema %d: %v", version, schema, err)
		}
	}
	save(10, 1, `{"stock":10}`)
	save(20, 1, `{"stock":20}`)
	save(15, 1, `{"stock":15}`) // a slower writer: must not move the snapshot back
	save(5, 2, `{"v2":true}`)
	got, ok, err := store.Load(ctx, "product-x", 1)
	if err != nil || !ok || got.Version != 20 || got.Position != 7 {
		t.Fatalf("Load schema 1 = %+v, %v, %v; want version 20 at position 7", got, ok, err)
	}
	var state map[string]int
	if err := json.Unmarshal(got.State, &state); err != nil || state["stock"] != 20 {
		t.Fatalf("Load schema 1 state = %s (%v), want stock 20", got.State, err)
	}
	if got, ok, err := store.Load(ctx, "product-x", 2); err != nil || !ok || got.Version != 5 {
		t.Fatalf("Load schema 2 = %+v, %v, %v; want version 5", got, ok, err)
	}
}
