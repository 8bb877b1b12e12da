package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
)

// TestTakeoverSettlesOrdersNoSagaHandled places orders while no saga runs: the takeover settles
// each with the process manager once it has been PENDING for `after`, and not before.
func TestTakeoverSettlesOrdersNoSagaHandled(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := seed(ctx, a); err != nil {
		t.Fatal(err)
	}

	const after = 600 * time.Millisecond
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	tk := newTakeover(a.store, a.fulfil, after, log)
	wg.Go(func() { _ = tk.Run(runCtx) })
	select { // Run follows the log from its head: orders placed after it read the head are seen
	case <-tk.started:
	case <-ctx.Done():
		t.Fatal("the takeover did not start")
	}

	uctx := commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleUser}})
	addr := order.Address{Receiver: "Kim", Address1: "1 Road", Address2: "Apt 1", Zipcode: "06236", Phone: "01012345678", ReceiveType: "DOOR", ReceiveMessage: "door"}
	var ids []uuid.UUID
	placedAt := time.Now()
	// The second order asks for more than the last demo product's stock: REJECT.
	last := demoCatalog[len(demoCatalog)-1]
	for i, l := range []commands.PlaceOrderLine{{ProductID: seedID("product", demoCatalog[0].item), Quantity: 1}, {ProductID: seedID("product", last.item), Quantity: last.stock + 1}} {
		res, err := a.handlers.PlaceOrder.Handle(uctx, commands.PlaceOrder{Address: addr, Lines: []commands.PlaceOrderLine{l}})
		if err != nil {
			t.Fatalf("place order %d: %v", i, err)
		}
		ids = append(ids, res.State.ID)
	}
	want := []order.Status{order.StatusOrder, order.StatusReject}
	for i, id := range ids {
		for {
			st, err := a.repos.Orders.Load(ctx, id)
			if err != nil {
				t.Fatalf("load order %s: %v", id, err)
			}
			if st.Value.Status != order.StatusPending {
				if st.Value.Status != want[i] {
					t.Fatalf("order %d settled as %s, want %s", i, st.Value.Status, want[i])
				}
				if took := time.Since(placedAt); took < after {
					t.Fatalf("order %d settled %v after it was placed, before the takeover's %v", i, took, after)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("order %d still PENDING: %v", i, ctx.Err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Once settled, the orders are forgotten.
	for {
		tk.mu.Lock()
		n := len(tk.pending)
		tk.mu.Unlock()
		if n == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the takeover still watches %d settled orders", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLogLinesHaveDurationsInSecondsAndNoSecrets(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stderr: &out, getenv: envMap(map[string]string{
		"DATABASE_URL": "postgres://commerce:hunter2@db:5432/shop", "JWT_SECRET_USER": "s3cr3t-user-0123456789abcdef0123456789",
	})}
	if err := c.load(loadOptions{}); err != nil {
		t.Fatal(err)
	}
	c.log.Info("x", "took", 1500*time.Millisecond, "url", "postgres://commerce:hunter2@db/shop", "err", errorString("token s3cr3t-user-0123456789abcdef0123456789 refused"))
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("decode %q: %v", out.String(), err)
	}
	if line["took"] != 1.5 {
		t.Errorf("took = %v, want 1.5 (seconds)", line["took"])
	}
	if strings.Contains(out.String(), "hunter2") || strings.Contains(out.String(), "s3cr3t") {
		t.Errorf("the log line shows a secret: %s", out.String())
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
