package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TestUpdateRetriesCommutingConflict makes the writers of two processes (two Repos on one store)
// decide on the same version before either appends: one wins, the other gets a version conflict,
// reads and decides again, and both restocks count.
func TestUpdateRetriesCommutingConflict(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "Hot", 1000, 0)
	repos := []*commands.Repos{e.repos, commands.NewRepos(e.store, commands.Config{Observer: e.obs})}
	loaded := make(chan struct{}, 2)
	release := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			_, errs[i] = repos[i].Products.Update(context.Background(), p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
				if first {
					first = false
					loaded <- struct{}{}
					<-release
				}
				return p.Restock(s, 5, time.Now().UTC())
			})
		}()
	}
	<-loaded
	<-loaded
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("restock %d: %v", i, err)
		}
	}
	got, err := e.repos.Products.Load(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Value.Stock != 10 {
		t.Fatalf("stock after two concurrent restocks of 5 = %d, want 10", got.Value.Stock)
	}
	if conflicts, retries := e.obs.counts(); conflicts != 1 || retries != 1 {
		t.Fatalf("observer saw %d conflicts and %d retries, want 1 and 1", conflicts, retries)
	}
}

// TestConcurrentRestockHandlers runs many restocks of one product at once through the handler:
// one process has one writer per stream, so they all land and none conflicts with another.
func TestConcurrentRestockHandlers(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "Hot", 1000, 0)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.h.RestockProduct.Handle(as(s), commands.RestockProduct{ProductID: p.ID, Quantity: 1})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent restock: %v", err)
		}
	}
	got, err := e.repos.Products.Load(context.Background(), p.ID)
	if err != nil || got.Value.Stock != n {
		t.Fatalf("Load after %d restocks of 1 = stock %d, %v; want %d", n, got.Value.Stock, err, n)
	}
	if conflicts, retries := e.obs.counts(); conflicts != 0 || retries != 0 {
		t.Fatalf("%d restocks in one process: %d conflicts, %d retries; want none", n, conflicts, retries)
	}
}

func TestUpdateNeverRetriesDomainError(t *testing.T) {
	e := newEnv(t, commands.Config{CacheSize: -1}) // no cached state: the writer decides once, on the stream as read
	s := seller()
	p := e.onSale(s, e.item(), "P", 1000, 3)
	before := e.count()
	calls := 0
	refusal := domain.Conflictf("NOPE", "no")
	_, err := e.repos.Products.Update(context.Background(), p.ID, commands.Meta{Actor: s}, func(product.Product) ([]product.Event, error) {
		calls++
		return nil, refusal
	})
	if !errors.Is(err, refusal) || calls != 1 {
		t.Fatalf("Update with a refusing decision = %v after %d calls, want the refusal after 1", err, calls)
	}
	if after := e.count(); after != before {
		t.Fatalf("events %d -> %d after a refusal, want no change", before, after)
	}
}

// TestUpdateRetriesUntilItsContextEnds appends a rival event inside the first decisions, so
// their appends conflict: the writer reads and decides again, as often as it takes, and the
// command lands; traffic never refuses it.
func TestUpdateRetriesUntilItsContextEnds(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "P", 1000, 3)
	const rivals = 15
	calls := 0
	st, err := e.repos.Products.UpdateState(context.Background(), p.ID, commands.Meta{Actor: s}, func(cur product.Product) ([]product.Event, error) {
		calls++
		if calls <= rivals {
			rival, _ := json.Marshal(product.Restocked{ProductID: p.ID, Quantity: 1, Stock: cur.Stock + 1})
			if _, err := e.store.Append(context.Background(), product.StreamID(p.ID), eventstore.Any,
				eventstore.EventData{ID: uuid.New(), Type: product.TypeRestocked, Data: rival}); err != nil {
				t.Fatalf("rival append: %v", err)
			}
		}
		return cur.Restock(s, 1, time.Now().UTC())
	})
	if err != nil || calls != rivals+1 || st.Value.Stock != 3+rivals+1 {
		t.Fatalf("Update under %d conflicts = stock %d, %v after %d decisions; want stock %d after %d", rivals, st.Value.Stock, err, calls, 3+rivals+1, rivals+1)
	}
	if conflicts, retries := e.obs.counts(); conflicts != rivals || retries != rivals {
		t.Fatalf("observer saw %d conflicts and %d retries, want %d and %d", conflicts, retries, rivals, rivals)
	}
}

func TestUpdateHonoursContext(t *testing.T) {
	e := newEnv(t, commands.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := e.count()
	_, err := e.repos.Products.Update(ctx, uuid.New(), commands.Meta{}, func(product.Product) ([]product.Event, error) {
		t.Error("decide called with a cancelled context")
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) || e.count() != before {
		t.Fatalf("Update with a cancelled context = %v, want context.Canceled and nothing appended", err)
	}
}

func TestNoOpDecisionAppendsNothing(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "Same", 1000, 3)
	cur := e.stream(product.StreamID(p.ID))
	last := cur[len(cur)-1]
	before := e.count()
	res, err := e.h.EditProduct.Handle(as(s), commands.EditProduct{ProductID: p.ID, Name: new("Same"), Price: new(int64(1000))})
	if err != nil {
		t.Fatalf("EditProduct with unchanged values: %v", err)
	}
	if res.Version != last.Version || res.Position != last.Position || e.count() != before {
		t.Fatalf("no-op edit = version %d position %d, events %d -> %d; want version %d position %d and no new event",
			res.Version, res.Position, before, e.count(), last.Version, last.Position)
	}
}

func TestMetadataOnEveryEvent(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	item := e.item()
	meta := commands.Meta{CorrelationID: uuid.New(), CausationID: uuid.New(), Actor: s, TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	res, err := e.h.CreateProduct.Handle(commands.WithMeta(context.Background(), meta), commands.CreateProduct{ItemID: item.ID, Name: "M", Price: 10, Stock: 1})
	if err != nil {
		t.Fatalf("CreateProduct: %v", err)
	}
	recs := e.stream(product.StreamID(res.ID))
	want := eventstore.Metadata{CorrelationID: meta.CorrelationID, CausationID: meta.CausationID, ActorID: s.ID, ActorRole: "SELLER", TraceParent: meta.TraceParent}
	if got := eventstore.ParseMetadata(recs[0].Metadata); got != want {
		t.Fatalf("metadata = %+v, want %+v", got, want)
	}
	// Without a causation id the correlation id stands in; without a correlation id one is made.
	_, err = e.repos.Products.Update(context.Background(), res.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
		return p.Restock(s, 1, time.Now().UTC())
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	recs = e.stream(product.StreamID(res.ID))
	got := eventstore.ParseMetadata(recs[len(recs)-1].Metadata)
	if got.CorrelationID == uuid.Nil || got.CausationID != got.CorrelationID || got.ActorID != s.ID {
		t.Fatalf("metadata without ids = %+v, want a new correlation id, causation = correlation, actor %s", got, s.ID)
	}
	if m := commands.MetaOf(recs[0]); m.CorrelationID != meta.CorrelationID || m.Actor != s {
		t.Fatalf("MetaOf = %+v, want correlation %s and actor %+v", m, meta.CorrelationID, s)
	}
}

func TestHandlerWithoutActor(t *testing.T) {
	e := newEnv(t, commands.Config{})
	_, err := e.h.CreateCategory.Handle(context.Background(), commands.CreateCategory{Name: "x"})
	if !errors.Is(err, commands.ErrNoActor) || e.count() != 0 {
		t.Fatalf("CreateCategory without Meta = %v, want ErrNoActor and nothing appended", err)
	}
}

// TestCommandIDRerunFindsItsEvents re-runs a command with the same CommandID, as after a crash
// between the append and the storing of its idempotent result: nothing is appended twice.
func TestCommandIDRerunFindsItsEvents(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "P", 1000, 0)
	meta := commands.Meta{Actor: s, CommandID: uuid.New()}
	restock := func(p product.Product) ([]product.Event, error) { return p.Restock(s, 7, time.Now().UTC()) }
	first, err := e.repos.Products.Update(context.Background(), p.ID, meta, restock)
	if err != nil {
		t.Fatalf("first Update: %v", err)
	}
	// Another writer appends after it; the re-run still finds its own events.
	if _, err := e.h.RestockProduct.Handle(as(s), commands.RestockProduct{ProductID: p.ID, Quantity: 1}); err != nil {
		t.Fatalf("RestockProduct: %v", err)
	}
	before := e.count()
	again, err := e.repos.Products.Update(context.Background(), p.ID, meta, func(product.Product) ([]product.Event, error) {
		t.Error("decide called again for a command whose events are stored")
		return nil, nil
	})
	if err != nil || again != first || e.count() != before {
		t.Fatalf("re-run = %+v, %v (events %d -> %d); want %+v and nothing appended", again, err, before, e.count(), first)
	}
	got, _ := e.repos.Products.Load(context.Background(), p.ID)
	if got.Value.Stock != 8 {
		t.Fatalf("stock = %d, want 8 (7 once, then 1)", got.Value.Stock)
	}
}

// TestSnapshotAndCacheEqualFullFold checks that every way of loading (cache + tail, snapshot +
// tail, snapshot only) gives the state a fold of the whole stream gives.
func TestSnapshotAndCacheEqualFullFold(t *testing.T) {
	e := newEnv(t, commands.Config{SnapshotEvery: 10})
	ctx := context.Background()
	s := seller()
	p := e.onSale(s, e.item(), "Hot", 1000, 500)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	// Another process's Repos on the same store and snapshots, with its own cache.
	other := commands.NewRepos(e.store, commands.Config{Snapshots: e.snaps, SnapshotEvery: 10})
	orders := make([]uuid.UUID, 40)
	for i := range orders {
		orders[i] = uuid.New()
		repo := e.repos.Products
		if i%3 == 0 {
			repo = other.Products
		}
		if _, err := repo.Update(ctx, p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
			return p.Reserve(orders[i], 1+i%4, at)
		}); err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
		if i%5 == 4 {
			if _, err := repo.Update(ctx, p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
				return p.Release(orders[i-2], at)
			}); err != nil {
				t.Fatalf("release %d: %v", i-2, err)
			}
		}
	}
	recs := e.stream(product.StreamID(p.ID))
	want := foldProduct(t, recs)
	last := recs[len(recs)-1]

	var snap commands.Snapshot
	var ok bool
	var err error
	eventually(t, 5*time.Second, func() bool {
		snap, ok, err = e.snaps.Load(ctx, product.StreamID(p.ID), commands.ProductSnapshotSchema)
		return err == nil && ok && snap.Version >= last.Version-10 && snap.Version <= last.Version
	}, func() string {
		return fmt.Sprintf("snapshot = version %d, %v, %v; want one within 10 events of version %d", snap.Version, ok, err, last.Version)
	})
	fresh := commands.NewRepos(e.store, commands.Config{Snapshots: e.snaps, SnapshotEvery: 10, CacheSize: -1})
	noSnap := commands.NewRepos(e.store, commands.Config{CacheSize: -1})
	for name, repo := range map[string]*commands.Repo[product.Product, product.Event]{
		"cache+tail (this process)":  e.repos.Products,
		"cache+tail (other process)": other.Products,
		"snapshot+tail":              fresh.Products,
		"full fold":                  noSnap.Products,
	} {
		got, err := repo.Load(ctx, p.ID)
		if err != nil {
			t.Fatalf("%s: Load: %v", name, err)
		}
		if !reflect.DeepEqual(got.Value, want) || got.Version != last.Version || got.Position != last.Position {
			t.Fatalf("%s: Load = %+v at version %d position %d,\nwant %+v at version %d position %d",
				name, got.Value, got.Version, got.Position, want, last.Version, last.Position)
		}
	}
	if errs := e.obs.snapshotFailures(); len(errs) > 0 {
		t.Fatalf("snapshot failures: %v", errs)
	}
}

// TestBrokenSnapshotIsIgnored corrupts the snapshot: loading reports it and folds the stream.
func TestBrokenSnapshotIsIgnored(t *testing.T) {
	e := newEnv(t, commands.Config{SnapshotEvery: 2, CacheSize: -1})
	ctx := context.Background()
	s := seller()
	p := e.onSale(s, e.item(), "P", 1000, 5)
	eventually(t, 5*time.Second, func() bool {
		_, ok, err := e.snaps.Load(ctx, product.StreamID(p.ID), commands.ProductSnapshotSchema)
		return err == nil && ok
	}, func() string { return "no snapshot of the product" })
	if _, err := e.pool.Exec(ctx, `UPDATE command_snapshots SET state = '{"stock": "many"}'`); err != nil {
		t.Fatalf("corrupt snapshot: %v", err)
	}
	got, err := e.repos.Products.Load(ctx, p.ID)
	if err != nil || !reflect.DeepEqual(got.Value, p) {
		t.Fatalf("Load with a broken snapshot = %+v, %v; want %+v", got.Value, err, p)
	}
	if len(e.obs.snapshotFailures()) != 1 {
		t.Fatalf("observer saw %d snapshot failures, want 1", len(e.obs.snapshotFailures()))
	}
}

// recordingSnapshots keeps the snapshots that reach a real snapshot store, in the order saved.
type recordingSnapshots struct {
	commands.SnapshotStore
	mu    sync.Mutex
	saved []commands.Snapshot
}

func (r *recordingSnapshots) Save(ctx context.Context, s commands.Snapshot) error {
	r.mu.Lock()
	r.saved = append(r.saved, s)
	r.mu.Unlock()
	return r.SnapshotStore.Save(ctx, s)
}

func (r *recordingSnapshots) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.saved)
}

// TestConcurrentLoadsSaveOneSnapshot loads a stream that is due for a snapshot from many
// goroutines at once: one snapshot is saved, not one per load.
func TestConcurrentLoadsSaveOneSnapshot(t *testing.T) {
	e := newEnv(t, commands.Config{SnapshotEvery: 1000})
	ctx := context.Background()
	s := seller()
	p := e.onSale(s, e.item(), "Hot", 1000, 500)
	for range 30 {
		if _, err := e.repos.Products.Update(ctx, p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
			return p.Reserve(uuid.New(), 1, time.Now())
		}); err != nil {
			t.Fatalf("reserve: %v", err)
		}
	}
	snaps := &recordingSnapshots{SnapshotStore: e.snaps}
	repos := commands.NewRepos(e.store, commands.Config{Snapshots: snaps, SnapshotEvery: 10, Observer: e.obs})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := repos.Products.Load(ctx, p.ID); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
	wg.Wait()
	eventually(t, 5*time.Second, func() bool { return snaps.count() >= 1 }, func() string { return "no snapshot saved" })
	if n := snaps.count(); n != 1 {
		t.Fatalf("32 concurrent loads saved %d snapshots, want 1", n)
	}
	want, err := repos.Products.Load(ctx, p.ID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	snap, ok, err := e.snaps.Load(ctx, product.StreamID(p.ID), commands.ProductSnapshotSchema)
	if err != nil || !ok || snap.Version != want.Version {
		t.Fatalf("snapshot = version %d, %v, %v; want version %d", snap.Version, ok, err, want.Version)
	}
	if errs := e.obs.snapshotFailures(); len(errs) > 0 {
		t.Fatalf("snapshot failures: %v", errs)
	}
}

// TestSnapshotsOfAGrowingProductGetRarer: a product whose open reservations pile up is snapshotted
// once its stream has grown by an eighth of its reservations as well as by SnapshotEvery, so the
// snapshot work per event stays bounded however many orders wait for delivery.
func TestSnapshotsOfAGrowingProductGetRarer(t *testing.T) {
	e := newEnv(t, commands.Config{SnapshotEvery: 10})
	ctx := context.Background()
	s := seller()
	p := e.onSale(s, e.item(), "Hot", 1000, 1000)
	snaps := &recordingSnapshots{SnapshotStore: e.snaps}
	repos := commands.NewRepos(e.store, commands.Config{Snapshots: snaps, SnapshotEvery: 10, Observer: e.obs})
	for range 400 {
		if _, err := repos.Products.Update(ctx, p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
			return p.Reserve(uuid.New(), 1, time.Now())
		}); err != nil {
			t.Fatalf("reserve: %v", err)
		}
	}
	eventually(t, 5*time.Second, func() bool {
		snaps.mu.Lock()
		defer snaps.mu.Unlock()
		return len(snaps.saved) > 0 && snaps.saved[len(snaps.saved)-1].Version >= 300
	}, func() string { return fmt.Sprintf("%d snapshots saved, none at version 300 or later", snaps.count()) })
	// A save may still be under way: look at the snapshots saved so far.
	snaps.mu.Lock()
	saved := slices.Clone(snaps.saved)
	snaps.mu.Unlock()
	if len(saved) < 2 {
		t.Fatalf("%d snapshots saved over 400 reservations, want several", len(saved))
	}
	for i := 1; i < len(saved); i++ {
		var st product.Product
		if err := json.Unmarshal(saved[i].State, &st); err != nil {
			t.Fatalf("decode snapshot %d: %v", i, err)
		}
		gap, want := saved[i].Version-saved[i-1].Version, max(10, int64(len(st.Reservations)/8))
		if gap < want {
			t.Fatalf("snapshot at version %d (%d reservations) came %d events after the one before, want at least %d",
				saved[i].Version, len(st.Reservations), gap, want)
		}
	}
	if last := saved[len(saved)-1]; last.Version < 300 {
		t.Fatalf("the last snapshot is at version %d of about 400, want snapshots to go on", last.Version)
	}
	if errs := e.obs.snapshotFailures(); len(errs) > 0 {
		t.Fatalf("snapshot failures: %v", errs)
	}
}

// TestLoadNoticesEventsTakenBack simulates a database that lost the last append the cache saw (a
// crash that took back a delayed append, a fail-over to a replica that was behind) and got another
// event at that version from another writer: Load must return the stream's state, not the cache's.
func TestLoadNoticesEventsTakenBack(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "P", 1000, 3)
	if _, err := e.h.RestockProduct.Handle(as(s), commands.RestockProduct{ProductID: p.ID, Quantity: 5}); err != nil {
		t.Fatalf("restock: %v", err)
	}
	stream := product.StreamID(p.ID)
	ctx := context.Background()
	tag, err := e.pool.Exec(ctx, `DELETE FROM events WHERE stream_id = $1 AND version = 3`, stream)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("take back version 3: %v (%d rows)", err, tag.RowsAffected())
	}
	other, _ := json.Marshal(product.Restocked{ProductID: p.ID, Quantity: 1, Stock: 4})
	if _, err := e.store.Append(ctx, stream, eventstore.Exact(2), eventstore.EventData{ID: uuid.New(), Type: product.TypeRestocked, Data: other}); err != nil {
		t.Fatalf("the other writer's append: %v", err)
	}
	got, err := e.repos.Products.Load(ctx, p.ID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Value.Stock != 4 || got.Version != 3 {
		t.Fatalf("Load after the store took back version 3 = stock %d at version %d, want 4 at 3", got.Value.Stock, got.Version)
	}
	e.obs.mu.Lock()
	stale := e.obs.stale
	e.obs.mu.Unlock()
	if stale != 1 {
		t.Fatalf("observer saw %d stale cache entries, want 1", stale)
	}
	// The reloaded state is cached and checked again next time without another reload.
	if again, err := e.repos.Products.Load(ctx, p.ID); err != nil || again.Value.Stock != 4 {
		t.Fatalf("second Load = stock %d, %v; want 4", again.Value.Stock, err)
	}
}
