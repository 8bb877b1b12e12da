package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

// BenchmarkLoadProduct loads a product stream of 100 and of 1,000,000 events on a durable
// database:
//
//   - cached: the Repo's cache holds the state; a load reads the (empty) tail after it.
//   - snapshot: a fresh Repo without cache, as after a restart: the snapshot plus a 50-event tail.
//   - restock: a whole command on a cached hot stream: load, decide, durable append.
//
// go test -run '^$' -bench LoadProduct -benchtime 2s ./commands/
func BenchmarkLoadProduct(b *testing.B) {
	pool := pgtest.NewDurable(b)
	store := postgres.New(pool)
	snaps := snapshot.New(pool)
	ctx := context.Background()
	s := domain.Actor{ID: uuid.New(), Role: domain.RoleSeller}
	type stream struct {
		size int
		id   uuid.UUID
		want int64
	}
	var streams []stream
	// One Repos with the cache, as a running server has; snapshots are saved by the first loads
	// only, so that every cold load below reads the same 50-event tail.
	warm := commands.NewRepos(store, commands.Config{Snapshots: snaps, SnapshotEvery: 1_000_000_000})
	for _, size := range []int{100, 1_000_000} {
		id := seedProduct(b, ctx, store, pool, s, size)
		// The first load folds the whole stream and saves a snapshot; 50 more events make a tail.
		start := time.Now()
		first, err := commands.NewRepos(store, commands.Config{Snapshots: snaps, SnapshotEvery: commands.DefaultSnapshotEvery}).Products.Load(ctx, id)
		if err != nil {
			b.Fatalf("first load: %v", err)
		}
		b.Logf("%d events: first load without snapshot or cache took %v", first.Version, time.Since(start).Round(time.Millisecond))
		for range 50 {
			if _, err := warm.Products.Update(ctx, id, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
				return p.Restock(s, 1, time.Now().UTC())
			}); err != nil {
				b.Fatalf("restock: %v", err)
			}
		}
		streams = append(streams, stream{size: size, id: id, want: first.Version + 50})
	}
	// Both sizes back to back for each kind of load, so that they run under the same machine load.
	for _, st := range streams {
		b.Run(fmt.Sprintf("cached/events=%d", st.size), func(b *testing.B) {
			for b.Loop() {
				got, err := warm.Products.Load(ctx, st.id)
				if err != nil || got.Version < st.want {
					b.Fatalf("Load = version %d, %v; want %d", got.Version, err, st.want)
				}
			}
		})
	}
	for _, st := range streams {
		b.Run(fmt.Sprintf("snapshot/events=%d", st.size), func(b *testing.B) {
			for b.Loop() {
				cold := commands.NewRepos(store, commands.Config{Snapshots: snaps, SnapshotEvery: 1_000_000_000, CacheSize: -1})
				got, err := cold.Products.Load(ctx, st.id)
				if err != nil || got.Version != st.want {
					b.Fatalf("Load = version %d, %v; want %d", got.Version, err, st.want)
				}
			}
		})
	}
	for _, st := range streams {
		b.Run(fmt.Sprintf("restock/events=%d", st.size), func(b *testing.B) {
			for b.Loop() {
				if _, err := warm.Products.Update(ctx, st.id, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
					return p.Restock(s, 1, time.Now().UTC())
				}); err != nil {
					b.Fatalf("restock: %v", err)
				}
			}
		})
	}
}

// seedProduct creates a product on sale with a stock of seedStock through the store, then inserts
// reservations and their commits, order after order, up to size events in one bulk statement
// shaped like the Postgres adapter's appends (position = xid << 20 | index). The last reservation
// may stay open.
func seedProduct(b *testing.B, ctx context.Context, store *postgres.Store, pool *pgxpool.Pool, s domain.Actor, size int) uuid.UUID {
	b.Helper()
	id := uuid.New()
	at := time.Now().UTC()
	md := eventstore.Metadata{CorrelationID: uuid.New(), ActorID: s.ID, ActorRole: string(s.Role)}.Marshal()
	var data []eventstore.EventData
	for _, e := range []product.Event{
		product.Created{ProductID: id, SellerID: s.ID, ItemID: uuid.New(), CategoryID: uuid.New(), BrandID: uuid.New(),
			Name: "Hot", Price: 1000, Stock: seedStock, Status: product.StatusRegistered, At: at},
		product.StatusChanged{ProductID: id, Status: product.StatusSell, At: at},
	} {
		raw, _ := json.Marshal(e)
		data = append(data, eventstore.EventData{ID: uuid.New(), Type: e.EventType(), Data: raw, Metadata: md})
	}
	if _, err := store.Append(ctx, product.StreamID(id), eventstore.NoStream, data...); err != nil {
		b.Fatalf("create product: %v", err)
	}
	// Event v (3..size) is, for k = v-3: the reservation of order k/2 when k is even, its commit
	// when k is odd. Order ids are md5-derived so that the reservation and the commit agree.
	start := time.Now()
	_, err := pool.Exec(ctx, `
		INSERT INTO events (position, stream_id, version, id, type, data, metadata, recorded_at)
		SELECT (pg_current_xact_id()::text::bigint << 20) | (v - 1), $1, v, gen_random_uuid(),
		       CASE WHEN (v - 3) % 2 = 0 THEN $4 ELSE $5 END,
		       CASE WHEN (v - 3) % 2 = 0
		            THEN jsonb_build_object('product_id', $2::uuid, 'order_id', md5($1 || ((v - 3) / 2)::text)::uuid,
		                                    'quantity', 1, 'stock', $6 - ((v - 3) / 2) - 1, 'at', $7::timestamptz)
		            ELSE jsonb_build_object('product_id', $2::uuid, 'order_id', md5($1 || ((v - 3) / 2)::text)::uuid,
		                                    'quantity', 1, 'at', $7::timestamptz)
		       END,
		       $8::jsonb, now()
		FROM generate_series(3, $3::bigint) AS v`,
		product.StreamID(id), id.String(), size, product.TypeStockReserved, product.TypeReservationCommitted,
		seedStock, at, string(md))
	if err != nil {
		b.Fatalf("seed %d events: %v", size, err)
	}
	b.Logf("seeded %d events in %v", size, time.Since(start).Round(time.Millisecond))
	return id
}

// seedStock is the seeded product's first stock: enough for 500,000 reservations of 1, with room
// left for the benchmark's restocks under the 1,000,000 limit.
const seedStock = 500_000
