package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/eventstore"
	pgstore "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestClusterSurvivesKilledProcesses runs the split topology as separate processes: kfake (its own
// command) as the broker, two `commerce serve` with ROLES=api,saga and two with
// ROLES=relay,projector (one of them on standby), all on one fresh database. Orders, rejects,
// cancels and restocks go through both APIs while one saga process and then the active relay are
// killed with SIGKILL (the saga one is started again). Then: every order placed is in the store
// and settled, no stock is below 0, each product's stock is its initial stock plus its restocks
// minus what its ORDER lines hold, and the read models equal the streams. It logs the p99 of
// place→settled as the clients saw it and the version conflicts of the surviving processes.
func TestClusterSurvivesKilledProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := buildBinaries(t)
	dbURL := pgtest.NewURL(t)

	kfakeAddr, kfakePort := kafkatest.FreeAddr(t)
	startProcess(t, "kfake", bin.kfake, nil, "-port", strconv.Itoa(kfakePort))
	base := map[string]string{
		"DATABASE_URL": dbURL, "KAFKA_BROKERS": kfakeAddr, "LOG_LEVEL": "info", "SHUTDOWN_TIMEOUT": "10s",
		"SECRETS_FILE": filepath.Join(t.TempDir(), "secrets.json"),
	}
	for _, cmd := range []string{"migrate", "seed"} {
		if out, err := commandIn(ctx, bin.commerce, base, cmd).CombinedOutput(); err != nil {
			t.Fatalf("commerce %s: %v\n%s", cmd, err, out)
		}
	}

	apiEnv := func() (map[string]string, string) {
		addr, _ := kafkatest.FreeAddr(t)
		return with(base, map[string]string{"ROLES": "api,saga", "HTTP_ADDR": addr}), "http://" + addr
	}
	relayEnv := func() (map[string]string, string) {
		addr, _ := kafkatest.FreeAddr(t)
		return with(base, map[string]string{"ROLES": "relay,projector", "METRICS_ADDR": addr}), "http://" + addr
	}
	env1, api1 := apiEnv()
	env2, api2 := apiEnv()
	envR1, opsR1 := relayEnv()
	envR2, opsR2 := relayEnv()
	procs := map[string]*process{
		"api1":   startProcess(t, "api1", bin.commerce, env1, "serve"),
		"api2":   startProcess(t, "api2", bin.commerce, env2, "serve"),
		"relay1": startProcess(t, "relay1", bin.commerce, envR1, "serve"),
		"relay2": startProcess(t, "relay2", bin.commerce, envR2, "serve"),
	}
	for _, u := range []string{api1, api2, opsR1, opsR2} {
		waitReady(t, u+"/readyz", 60*time.Second)
	}

	shop := newShop(t, ctx, api1)
	load := &clusterLoad{shop: shop, apis: []string{api1, api2}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() { load.orders(loadCtx, w) })
	}
	wg.Go(func() { load.restocks(loadCtx) })
	wg.Go(func() { load.cancels(loadCtx) })

	sleepCtx(ctx, 3*time.Second)
	t.Log("kill -9 api2 (api,saga)")
	procs["api2"].kill9(t)
	sleepCtx(ctx, 2*time.Second)
	procs["api2"] = startProcess(t, "api2", bin.commerce, env2, "serve")
	waitReady(t, api2+"/readyz", 60*time.Second)
	sleepCtx(ctx, 2*time.Second)
	holder, standby := "relay1", "relay2"
	if metricValue(t, opsR2+"/metrics", "commerce_relay_active") == 1 {
		holder, standby = standby, holder
	}
	t.Logf("kill -9 %s (the active relay)", holder)
	procs[holder].kill9(t)
	killed := time.Now()
	standbyOps := map[string]string{"relay1": opsR1, "relay2": opsR2}[standby]
	for metricValue(t, standbyOps+"/metrics", "commerce_relay_active") != 1 {
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("the standby relay %s did not become active within 30 s of the kill", standby)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the standby relay %s took over %.2f s after the kill", standby, time.Since(killed).Seconds())
	sleepCtx(ctx, 4*time.Second)
	stopLoad()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the test ran out of time: %v", ctx.Err())
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := pgstore.New(pool)
	st := load.stats()
	t.Logf("orders: %d placed (%d answered settled: %d ORDER, %d REJECT), %d refused with 422, %d cancels, %d restocks, %d transport errors retried",
		st.placed, st.settled, st.confirmed, st.rejected, st.refused, st.cancels, st.restocks, st.retried)
	if st.placed < 20 || st.confirmed == 0 || st.cancels == 0 {
		t.Fatalf("the load did too little to judge: %+v", st)
	}
	p50, p99, max := st.quantiles()
	t.Logf("place→settled as clients saw it (POST /orders?wait=10s): p50 %.3f s, p99 %.3f s, max %.3f s over %d orders",
		p50.Seconds(), p99.Seconds(), max.Seconds(), len(st.latencies))
	conflicts := 0.0
	for _, u := range []string{api1, api2, standbyOps} {
		conflicts += metricValue(t, u+"/metrics", "commerce_command_conflicts_total")
	}
	t.Logf("version conflicts counted by the surviving processes: %.0f", conflicts)

	// Every order the clients were told of is in the store, and every order in the store settles.
	var orders map[uuid.UUID]order.Order
	eventually(t, 30*time.Second, 200*time.Millisecond, func() string {
		orders = foldOrders(t, ctx, store)
		pending := 0
		for _, o := range orders {
			if o.Status == order.StatusPending {
				pending++
			}
		}
		if pending > 0 {
			return fmt.Sprintf("%d of %d orders still PENDING after the load stopped", pending, len(orders))
		}
		return ""
	})
	for id := range load.placedIDs() {
		if _, ok := orders[id]; !ok {
			t.Errorf("order %s was answered to a client but is not in the store", id)
		}
	}

	// Stock arithmetic, from the streams: initial + restocks - what the ORDER lines hold.
	stocks := make(map[uuid.UUID]int)
	for _, id := range shop.products {
		recs := readStream(t, ctx, store, product.StreamID(id))
		var events []product.Event
		want := 0
		for _, rec := range recs {
			e, err := product.Decode(rec.Type, rec.Data)
			if err != nil {
				t.Fatalf("decode %s of %s: %v", rec.Type, rec.Stream, err)
			}
			events = append(events, e)
			switch e := e.(type) {
			case product.Created:
				want += e.Stock
			case product.Restocked:
				want += e.Quantity
			}
		}
		for _, o := range orders {
			if o.Status != order.StatusOrder {
				continue
			}
			for _, l := range o.Lines {
				if l.ProductID == id && l.Status != order.LineCancel && l.Status != order.LineReject {
					want -= l.Quantity
				}
			}
		}
		got := product.Fold(events...).Stock
		stocks[id] = got
		if got < 0 || got != want {
			t.Errorf("product %s: stock %d, want %d (initial + restocks - held) and not below 0", id, got, want)
		}
	}

	// The read models equal the streams once the projector (the standby that took over) caught up.
	eventually(t, 30*time.Second, 200*time.Millisecond, func() string {
		if diff := readModelDiff(t, ctx, pool, orders, stocks); diff != "" {
			return "read models differ from the streams after the load stopped: " + diff
		}
		return ""
	})
}

// binaries are the commands the cluster test runs.
type binaries struct{ commerce, kfake string }

// buildBinaries builds commerce and kfake into a temporary directory.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{commerce: filepath.Join(dir, "commerce"), kfake: filepath.Join(dir, "kfake")}
	for out, pkg := range map[string]string{b.commerce: ".", b.kfake: "../kfake"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	return b
}

// process is a command the test started; it is killed when the test ends, and its output is
// printed when the test failed.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
	done chan struct{}
}

func commandIn(ctx context.Context, bin string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func startProcess(t *testing.T, name, bin string, env map[string]string, args ...string) *process {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: commandIn(context.Background(), bin, env, args...), out: out, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			logs, _ := os.ReadFile(out.Name())
			t.Logf("--- %s (pid %d) output, last 4000 bytes:\n%s", name, p.cmd.Process.Pid, tail(logs, 4000))
		}
		out.Close()
	})
	return p
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", p.name, err)
	}
	<-p.done
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func with(base, extra map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// sleepCtx waits d or until ctx ends, and returns ctx's error then.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// metricValue sums the samples of metric (every label set) on a Prometheus text page.
func metricValue(t *testing.T, url, metric string) float64 {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+" ") && !strings.HasPrefix(line, metric+"{") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// shop is the demo data the load uses: a user with an address, the sellers and their products.
type shop struct {
	t        *testing.T
	user     string // access token
	address  uuid.UUID
	sellers  map[uuid.UUID]string // product -> its seller's token
	products []uuid.UUID
}

func newShop(t *testing.T, ctx context.Context, api string) *shop {
	s := &shop{t: t, sellers: make(map[uuid.UUID]string)}
	login := func(email, password, role string) string {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if status := s.call(ctx, api, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": email, "password": password, "role": role}, &out); status != http.StatusOK {
			t.Fatalf("log in %s: status %d", email, status)
		}
		return out.AccessToken
	}
	u := demoAccounts.users[0]
	s.user = login(u.Email, u.Password, "USER")
	var addr struct {
		ID uuid.UUID `json:"id"`
	}
	body := map[string]string{"receiver": "Kim", "address1": "1 Road", "address2": "Apt 1", "zipcode": "06236", "phone": "01012345678", "receive_type": "DOOR", "receive_message": "door"}
	if status := s.call(ctx, api, s.user, http.MethodPost, "/api/v1/users/me/addresses", body, &addr); status != http.StatusCreated {
		t.Fatalf("add an address: status %d", status)
	}
	s.address = addr.ID
	var tokens []string
	for _, sl := range demoAccounts.sellers {
		tokens = append(tokens, login(sl.Email, sl.Password, "SELLER"))
	}
	for i, d := range demoCatalog {
		id := seedID("product", d.item)
		s.products = append(s.products, id)
		s.sellers[id] = tokens[i%len(tokens)]
	}
	return s
}

// call sends a JSON request and decodes the envelope's data into out; it returns the status, 0
// when the request did not get an answer.
func (s *shop) call(ctx context.Context, api, token, method, path string, body, out any) int {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, api+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key, ok := ctx.Value(idempotencyKey{}).(string); ok {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&env) == nil && len(env.Data) > 0 {
			_ = json.Unmarshal(env.Data, out)
		}
	}
	return resp.StatusCode
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

type idempotencyKey struct{}

// clusterLoad places orders through the APIs, restocks and cancels, and keeps what it saw.
type clusterLoad struct {
	shop *shop
	apis []string

	mu        sync.Mutex
	placed    map[uuid.UUID]bool
	confirmed []uuid.UUID
	st        loadStats
}

type loadStats struct {
	placed, settled, confirmed, rejected, refused, cancels, restocks, retried int
	latencies                                                                 []time.Duration
}

func (l *clusterLoad) stats() loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (l *clusterLoad) placedIDs() map[uuid.UUID]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.placed
}

func (s loadStats) quantiles() (p50, p99, max time.Duration) {
	d := slices.Clone(s.latencies)
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, len(d)*99/100)], d[len(d)-1]
}

// orders places orders of one or two lines until ctx ends, through API w%2 first and the other
// one when that gives no answer (with the same Idempotency-Key, so an order is placed once).
func (l *clusterLoad) orders(ctx context.Context, w int) {
	for ctx.Err() == nil {
		ps := l.shop.products
		i, j := rand.N(len(ps)), rand.N(len(ps))
		lines := []map[string]any{{"product_id": ps[i], "quantity": 1 + rand.N(3)}}
		if j != i {
			lines = append(lines, map[string]any{"product_id": ps[j], "quantity": 1})
		}
		body := map[string]any{"address_id": l.shop.address, "lines": lines}
		kctx := context.WithValue(context.WithoutCancel(ctx), idempotencyKey{}, uuid.NewString())
		var out struct {
			ID     uuid.UUID `json:"id"`
			Status string    `json:"status"`
		}
		start := time.Now()
		status := 0
		for attempt := 0; status == 0 && attempt < 6; attempt++ {
			api := l.apis[(w+attempt)%len(l.apis)]
			if status = l.shop.call(kctx, api, l.shop.user, http.MethodPost, "/api/v1/orders?wait=10s", body, &out); status == 0 {
				l.mu.Lock()
				l.st.retried++
				l.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		}
		took := time.Since(start)
		l.mu.Lock()
		switch status {
		case http.StatusCreated, http.StatusAccepted:
			if l.placed == nil {
				l.placed = make(map[uuid.UUID]bool)
			}
			l.placed[out.ID] = true
			l.st.placed++
			if status == http.StatusCreated {
				l.st.settled++
				l.st.latencies = append(l.st.latencies, took)
			}
			switch out.Status {
			case "ORDER":
				l.st.confirmed++
				l.confirmed = append(l.confirmed, out.ID)
			case "REJECT":
				l.st.rejected++
			}
		case http.StatusUnprocessableEntity:
			l.st.refused++ // a product sold out: nothing written
		}
		l.mu.Unlock()
	}
}

// restocks adds stock to a random product every 100 ms, as its seller.
func (l *clusterLoad) restocks(ctx context.Context) {
	for sleepCtx(ctx, 100*time.Millisecond) == nil {
		id := l.shop.products[rand.N(len(l.shop.products))]
		api := l.apis[rand.N(len(l.apis))]
		if l.shop.call(ctx, api, l.shop.sellers[id], http.MethodPost, "/api/v1/products/"+id.String()+"/stock", map[string]int{"quantity": 5}, nil) == http.StatusOK {
			l.mu.Lock()
			l.st.restocks++
			l.mu.Unlock()
		}
	}
}

// cancels cancels line 1 of a confirmed order every 200 ms, and its seller confirms the cancel,
// which gives the stock back.
func (l *clusterLoad) cancels(ctx context.Context) {
	for sleepCtx(ctx, 200*time.Millisecond) == nil {
		l.mu.Lock()
		if len(l.confirmed) == 0 {
			l.mu.Unlock()
			continue
		}
		id := l.confirmed[0]
		l.confirmed = l.confirmed[1:]
		l.mu.Unlock()
		api := l.apis[rand.N(len(l.apis))]
		var o struct {
			Lines []struct {
				ProductID uuid.UUID `json:"product_id"`
			} `json:"lines"`
		}
		path := "/api/v1/orders/" + id.String()
		if l.shop.call(ctx, api, l.shop.user, http.MethodPost, path+"/lines/1/cancel", nil, nil) != http.StatusOK {
			continue
		}
		if l.shop.call(ctx, api, l.shop.user, http.MethodGet, path, nil, &o) != http.StatusOK || len(o.Lines) == 0 {
			continue
		}
		seller := l.shop.sellers[o.Lines[0].ProductID]
		if l.shop.call(ctx, api, seller, http.MethodPost, "/api/v1/seller/order-lines/"+id.String()+"/1/confirm-cancel", nil, nil) == http.StatusOK {
			l.mu.Lock()
			l.st.cancels++
			l.mu.Unlock()
		}
	}
}

// readStream reads a whole stream.
func readStream(t *testing.T, ctx context.Context, store eventstore.Store, stream string) []eventstore.Record {
	t.Helper()
	recs, err := store.ReadStream(ctx, stream, 0, 1_000_000)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return recs
}

// foldOrders folds every order stream of the log.
func foldOrders(t *testing.T, ctx context.Context, store eventstore.Store) map[uuid.UUID]order.Order {
	t.Helper()
	events := make(map[string][]order.Event)
	var from eventstore.Position
	for {
		recs, err := store.ReadAll(ctx, from, 5000)
		if err != nil {
			t.Fatalf("read the log after %d: %v", from, err)
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if !strings.HasPrefix(rec.Stream, order.StreamPrefix) {
				continue
			}
			e, err := order.Decode(rec.Type, rec.Data)
			if err != nil {
				t.Fatalf("decode %s of %s: %v", rec.Type, rec.Stream, err)
			}
			events[rec.Stream] = append(events[rec.Stream], e)
		}
		from = recs[len(recs)-1].Position
	}
	out := make(map[uuid.UUID]order.Order, len(events))
	for _, es := range events {
		o := order.Fold(es...)
		out[o.ID] = o
	}
	return out
}

// readModelDiff says how the orders and products read models differ from the folded streams, ""
// when they do not.
func readModelDiff(t *testing.T, ctx context.Context, pool *pgxpool.Pool, orders map[uuid.UUID]order.Order, stocks map[uuid.UUID]int) string {
	t.Helper()
	var diffs []string
	rows, err := pool.Query(ctx, `SELECT o.id, o.status, coalesce(array_agg(l.status ORDER BY l.line) FILTER (WHERE l.line IS NOT NULL), '{}')
		FROM readmodel.orders o LEFT JOIN readmodel.order_lines l ON l.order_id = o.id GROUP BY o.id, o.status`)
	if err != nil {
		return fmt.Sprintf("query the orders read model: %v", err)
	}
	seen := 0
	for rows.Next() {
		var id uuid.UUID
		var status string
		var lines []string
		if err := rows.Scan(&id, &status, &lines); err != nil {
			t.Fatal(err)
		}
		seen++
		o, ok := orders[id]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("order %s is in the read model only", id))
			continue
		}
		var want []string
		for _, l := range o.Lines {
			want = append(want, string(l.Status))
		}
		if status != string(o.Status) || !slices.Equal(lines, want) {
			diffs = append(diffs, fmt.Sprintf("order %s: read model %s %v, stream %s %v", id, status, lines, o.Status, want))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Sprintf("read the orders read model: %v", err)
	}
	if seen != len(orders) {
		diffs = append(diffs, fmt.Sprintf("%d orders in the read model, %d in the log", seen, len(orders)))
	}
	for id, want := range stocks {
		var got int
		if err := pool.QueryRow(ctx, `SELECT stock FROM readmodel.products WHERE id = $1`, id).Scan(&got); err != nil || got != want {
			diffs = append(diffs, fmt.Sprintf("product %s: read model stock %d (%v), stream %d", id, got, err, want))
		}
	}
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}
