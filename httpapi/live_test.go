package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

func TestLive(t *testing.T) {
	t.Parallel()
	runSuiteOn(t, newShop(t), map[string]func(*testing.T, *shop){
		"order stream from placing to delivery":       testLiveOrderStream,
		"Last-Event-ID resumes exactly":               testLiveResume,
		"another user's order is 404":                 testLiveOtherUsersOrder,
		"a change written by another instance":        testLiveAcrossInstances,
		"streams per account are bounded":             testLiveStreamsPerAccount,
		"seller stream":                               testLiveSellerStream,
		"a burst larger than a stream's buffer":       testLiveBurst,
		"shutdown closes open streams":                testLiveShutdown,
		"heartbeat":                                   testLiveHeartbeat,
		"OpenAPI document describes the live streams": testLiveOpenAPI,
	})
}

// listen serves e on a free loopback port until the test ends and returns the base URL.
func (e *env) listen() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- e.app.Listener(ln) }()
	e.t.Cleanup(func() {
		if err := e.app.ShutdownWithTimeout(10 * time.Second); err != nil {
			e.t.Errorf("shut the server down: %v", err)
		}
		<-served
	})
	return "http://" + ln.Addr().String()
}

// sseMessage is one Server-Sent Events message.
type sseMessage struct {
	id    string
	event string
	data  string
}

// sseStream is an open text/event-stream response read by a goroutine.
type sseStream struct {
	t        *testing.T
	resp     *http.Response
	messages chan sseMessage
	comments chan string
	ended    chan struct{}
}

// openSSE sends GET url with token and Last-Event-ID (when not empty) and returns the response;
// a 200 is read as a stream until the test ends or close is called.
func openSSE(t *testing.T, url, token, lastID string) (*sseStream, int, []byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		r.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, body
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET %s: Content-Type %q, want text/event-stream", url, ct)
	}
	s := &sseStream{t: t, resp: resp, messages: make(chan sseMessage, 100), comments: make(chan string, 100), ended: make(chan struct{})}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.ended)
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.event != "" || m.data != "" {
					s.messages <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, ":"):
				select {
				case s.comments <- strings.TrimSpace(line[1:]):
				default:
				}
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.data = line[6:]
			}
		}
	}()
	return s, http.StatusOK, nil
}

// next returns the next message, failing the test after 20 s or when the stream ended before it.
func (s *sseStream) next(what string) sseMessage {
	s.t.Helper()
	select {
	case m := <-s.messages:
		return m
	case <-s.ended:
		select {
		case m := <-s.messages: // read before the end
			return m
		default:
		}
		s.t.Fatalf("stream ended while waiting for %s", what)
	case <-time.After(20 * time.Second):
		s.t.Fatalf("no message within 20 s while waiting for %s", what)
	}
	return sseMessage{}
}

// none fails the test if a message arrives within d.
func (s *sseStream) none(d time.Duration) {
	s.t.Helper()
	select {
	case m := <-s.messages:
		s.t.Fatalf("unexpected message %s %s: %s", m.id, m.event, m.data)
	case <-time.After(d):
	}
}

func (s *sseStream) close() { s.resp.Body.Close() }

// orderChange decodes an order stream message, checking that its id is its position.
func orderChange(t *testing.T, m sseMessage) httpapi.OrderChangeView {
	t.Helper()
	var v httpapi.OrderChangeView
	if err := json.Unmarshal([]byte(m.data), &v); err != nil {
		t.Fatalf("message %s %s: data is not an order change: %v: %s", m.id, m.event, err, m.data)
	}
	if m.id != strconv.FormatUint(uint64(v.Position), 10) || m.event != v.Type {
		t.Fatalf("message id %s event %s, data position %d type %s: want them equal", m.id, m.event, v.Position, v.Type)
	}
	return v
}

// describe is an order's status as the tests follow it: the order's, then line 1's status and
// delivery.
func describe(o httpapi.OrderView) string {
	s := o.Status
	if len(o.Lines) > 0 && o.Lines[0].Status != nil {
		s += " " + *o.Lines[0].Status + " " + *o.Lines[0].DeliveryStatus
	}
	return s
}

// liveOrder sets up a seller's product and a user with an address, and places an order of one
// line without waiting for it to settle; it returns the order id and the position it was placed at.
type liveOrder struct {
	e       *env
	user    account
	seller  account
	product uuid.UUID
	id      uuid.UUID
	placed  uint64
}

func newLiveOrder(t *testing.T, e *env) *liveOrder {
	t.Helper()
	lo := &liveOrder{e: e, user: e.user(), seller: e.seller()}
	c := e.catalog(e.supervisor())
	lo.product, _ = e.product(lo.seller, c.item, 1500, 10)
	addr := e.address(lo.user)
	r := e.expect(req{method: "POST", path: "/api/v1/orders", token: lo.user.tokens.AccessToken,
		body: map[string]any{"address_id": addr, "lines": []orderLine{{lo.product, 2}}}}, 202)
	var o httpapi.OrderView
	r.decode(t, &o)
	lo.id, lo.placed = o.ID, position(t, r)
	return lo
}

// act has the seller act on line 1 through e.
func (lo *liveOrder) act(e *env, action string) {
	e.t.Helper()
	e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/1/%s", lo.id, action),
		token: lo.seller.tokens.AccessToken}, 200)
}

// settled waits until the order is ORDER (the process manager reserved its stock), reading its
// stream through a repository that caches nothing, and returns the position of its last event.
func (lo *liveOrder) settled(t *testing.T, s *shop) (position uint64) {
	t.Helper()
	repos := commands.NewRepos(s.store, commands.Config{})
	eventually(t, 20*time.Second, "the order is settled", func() bool {
		st, err := repos.Orders.Load(context.Background(), lo.id)
		position = uint64(st.Position)
		return err == nil && st.Value.Status == "ORDER"
	})
	return position
}

func (lo *liveOrder) url(base string) string {
	return base + "/api/v1/orders/" + lo.id.String() + "/events"
}

// follow opens the order's stream on the server at base as its owner, resuming after lastEventID
// ("" for none), and fails the test unless it is answered 200.
func (lo *liveOrder) follow(t *testing.T, base, lastEventID string) *sseStream {
	t.Helper()
	st, status, body := openSSE(t, lo.url(base), lo.user.tokens.AccessToken, lastEventID)
	if status != 200 {
		t.Fatalf("GET %s (Last-Event-ID %q): %d %s", lo.url(base), lastEventID, status, body)
	}
	return st
}

// The order's stream, resumed from just before the order was placed, shows every step in log
// order: PENDING → ORDER → ACCEPT → DELIVERY → COMPLETE, each message's id its log position.
func testLiveOrderStream(t *testing.T, s *shop) {
	e := s.server(t)
	base := e.listen()
	lo := newLiveOrder(t, e)
	st := lo.follow(t, base, strconv.FormatUint(lo.placed-1, 10))
	var got []string
	var last uint64
	take := func(wantType string) {
		t.Helper()
		v := orderChange(t, st.next(wantType))
		if v.Type != wantType {
			t.Fatalf("message %d: type %s, want %s (so far %v)", len(got), v.Type, wantType, got)
		}
		if uint64(v.Position) <= last {
			t.Fatalf("message %s at position %d after %d: ids must grow", v.Type, v.Position, last)
		}
		last = uint64(v.Position)
		got = append(got, describe(v.Order))
	}
	take("order.placed.v1")
	take("order.confirmed.v1")
	lo.act(e, "accept")
	take("order.line_accepted.v1")
	lo.act(e, "ship")
	take("order.line_shipped.v1")
	lo.act(e, "deliver")
	take("order.line_delivered.v1")
	want := []string{"PENDING", "ORDER ORDER READY", "ORDER ACCEPT READY", "ORDER ACCEPT DELIVERY", "ORDER ACCEPT COMPLETE"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("order stream: %v, want %v", got, want)
	}

	// A review of the delivered line arrives with the line's review_id.
	var rv struct {
		ID uuid.UUID `json:"id"`
	}
	e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/orders/%s/lines/1/review", lo.id), token: lo.user.tokens.AccessToken,
		body: map[string]any{"rating": 5, "content": "<b>great</b>"}}, 201).decode(t, &rv)
	v := orderChange(t, st.next("review.written.v1"))
	if v.Type != "review.written.v1" || v.Order.Lines[0].ReviewID == nil || *v.Order.Lines[0].ReviewID != rv.ID {
		t.Fatalf("review message: %+v, want review.written.v1 with review %s on line 1", v, rv.ID)
	}

	// Without Last-Event-ID the first message is the state, with the review.
	st2 := lo.follow(t, base, "")
	first := orderChange(t, st2.next("the state"))
	if first.Type != "state" || describe(first.Order) != "ORDER ACCEPT COMPLETE" || first.Order.Lines[0].ReviewID == nil || uint64(first.Position) < last {
		t.Fatalf("first message: %+v, want the state ORDER ACCEPT COMPLETE with the review, at %d or later", first, last)
	}
}

// A client that reconnects with the id of the last message it got receives exactly the changes
// it missed, and then the live ones, none twice.
func testLiveResume(t *testing.T, s *shop) {
	e := s.server(t)
	base := e.listen()
	lo := newLiveOrder(t, e)
	lo.settled(t, s)
	st := lo.follow(t, base, "")
	state := st.next("the state")
	if v := orderChange(t, state); v.Type != "state" || describe(v.Order) != "ORDER ORDER READY" {
		t.Fatalf("state: %+v", v)
	}
	st.close()

	lo.act(e, "accept")
	lo.act(e, "ship")

	st = lo.follow(t, base, state.id)
	for _, want := range []string{"order.line_accepted.v1", "order.line_shipped.v1"} {
		if v := orderChange(t, st.next(want)); v.Type != want {
			t.Fatalf("resumed stream: %s, want %s", v.Type, want)
		}
	}
	lo.act(e, "deliver")
	delivered := st.next("order.line_delivered.v1")
	if v := orderChange(t, delivered); v.Type != "order.line_delivered.v1" || describe(v.Order) != "ORDER ACCEPT COMPLETE" {
		t.Fatalf("after the missed changes: %+v, want order.line_delivered.v1", v)
	}
	st.none(300 * time.Millisecond)
	st.close()

	// A review written while the client is away arrives on its return, with the review's id.
	var rv struct {
		ID uuid.UUID `json:"id"`
	}
	e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/orders/%s/lines/1/review", lo.id), token: lo.user.tokens.AccessToken,
		body: map[string]any{"rating": 4, "content": "fine"}}, 201).decode(t, &rv)
	st = lo.follow(t, base, delivered.id)
	if v := orderChange(t, st.next("review.written.v1")); v.Type != "review.written.v1" || v.Order.Lines[0].ReviewID == nil || *v.Order.Lines[0].ReviewID != rv.ID {
		t.Fatalf("resumed after the review: %+v, want review.written.v1 with review %s", v, rv.ID)
	}
	st.none(300 * time.Millisecond)

	_, status, body := openSSE(t, lo.url(base), lo.user.tokens.AccessToken, "yesterday")
	if status != 400 {
		t.Fatalf("Last-Event-ID: yesterday: %d %s, want 400", status, body)
	}
}

// Another user's order, and an order that does not exist, are 404 in the envelope; no token is 401.
func testLiveOtherUsersOrder(t *testing.T, s *shop) {
	e := s.server(t)
	base := e.listen()
	lo := newLiveOrder(t, e)
	other := e.user()
	for _, tc := range []struct {
		name, url, token string
		status, code     int
	}{
		{"another user's order", lo.url(base), other.tokens.AccessToken, 404, 404},
		{"unknown order", base + "/api/v1/orders/" + uuid.NewString() + "/events", lo.user.tokens.AccessToken, 404, 404},
		{"not an id", base + "/api/v1/orders/nope/events", lo.user.tokens.AccessToken, 404, 404},
		{"no token", lo.url(base), "", 401, 4000},
		{"a seller", lo.url(base), lo.seller.tokens.AccessToken, 403, 4005},
	} {
		_, status, body := openSSE(t, tc.url, tc.token, "")
		var env envelope
		_ = json.Unmarshal(body, &env)
		if status != tc.status || env.Result.Code != tc.code {
			t.Errorf("%s: %d %s, want %d with result_code %d", tc.name, status, body, tc.status, tc.code)
		}
	}
}

// Two server instances on one database, each with its own event store client: a change
// written through the second reaches a client of the first, through the database.
func testLiveAcrossInstances(t *testing.T, s *shop) {
	own := func(d *httpapi.Deps, _ *auth.Config) {
		store := postgres.New(s.pool)
		cfg := commands.Config{Snapshots: snapshot.New(s.pool)}
		d.Store, d.Commands = store, commands.NewHandlers(commands.NewRepos(store, cfg), cfg)
	}
	first, second := s.server(t, own), s.server(t, own)
	base := first.listen()
	lo := newLiveOrder(t, second)
	lo.settled(t, s)
	st := lo.follow(t, base, "")
	if v := orderChange(t, st.next("the state")); v.Type != "state" {
		t.Fatalf("first message: %+v", v)
	}
	lo.act(second, "accept")
	if v := orderChange(t, st.next("order.line_accepted.v1")); v.Type != "order.line_accepted.v1" || describe(v.Order) != "ORDER ACCEPT READY" {
		t.Fatalf("the change written by the second instance: %+v", v)
	}
}

// An account holds at most LiveStreamsPerAccount streams: the next is 429 with Retry-After
// until one closes.
func testLiveStreamsPerAccount(t *testing.T, s *shop) {
	e := s.server(t, func(d *httpapi.Deps, _ *auth.Config) {
		d.Config.LiveStreamsPerAccount = 2
		d.Config.LiveHeartbeat = 50 * time.Millisecond
	})
	base := e.listen()
	lo := newLiveOrder(t, e)
	var open []*sseStream
	for i := range 2 {
		st, status, body := openSSE(t, lo.url(base), lo.user.tokens.AccessToken, "")
		if status != 200 {
			t.Fatalf("stream %d: %d %s", i+1, status, body)
		}
		open = append(open, st)
	}
	_, status, body := openSSE(t, lo.url(base), lo.user.tokens.AccessToken, "")
	var env envelope
	_ = json.Unmarshal(body, &env)
	if status != 429 || env.Result.Code != 429 {
		t.Fatalf("third stream: %d %s, want 429", status, body)
	}
	if m := string(e.do(req{method: "GET", path: "/metrics"}).body); !strings.Contains(m, "live_streams_open 2") {
		t.Errorf("/metrics does not count the 2 open streams:\n%s", grepLines(m, "live_streams"))
	}
	// Another account is not held back.
	sup := e.supervisor()
	if _, status, body := openSSE(t, lo.url(base), sup.tokens.AccessToken, ""); status != 200 {
		t.Fatalf("a supervisor's stream: %d %s", status, body)
	}
	open[0].close()
	eventually(t, 10*time.Second, "a slot is free once a stream closes", func() bool {
		st, status, _ := openSSE(t, lo.url(base), lo.user.tokens.AccessToken, "")
		if st != nil {
			st.close()
		}
		return status == 200
	})
}

// A seller's stream starts with the seller's lines and shows the lines of the seller's
// products as they are placed and change; a line of another seller's product does not show.
func testLiveSellerStream(t *testing.T, s *shop) {
	e := s.server(t)
	base := e.listen()
	lo := newLiveOrder(t, e)
	// The stream's state is the read model's: wait until it has the settled order.
	e.expect(req{method: "GET", path: at("/api/v1/seller/order-lines", lo.settled(t, s)), token: lo.seller.tokens.AccessToken}, 200)
	url := base + "/api/v1/seller/order-lines/events"
	st, status, body := openSSE(t, url, lo.seller.tokens.AccessToken, "")
	if status != 200 {
		t.Fatalf("GET seller line events: %d %s", status, body)
	}
	decode := func(m sseMessage) httpapi.SellerLinesChangeView {
		t.Helper()
		var v httpapi.SellerLinesChangeView
		if err := json.Unmarshal([]byte(m.data), &v); err != nil || m.event != v.Type {
			t.Fatalf("seller message %s %s: %v", m.event, m.data, err)
		}
		return v
	}
	first := decode(st.next("the state"))
	if first.Type != "state" || len(first.Lines) != 1 || first.Lines[0].OrderID != lo.id || *first.Lines[0].Status != "ORDER" {
		t.Fatalf("seller state: %+v, want the one ORDER line of %s", first, lo.id)
	}
	lo.act(e, "accept")
	if v := decode(st.next("order.line_accepted.v1")); v.Type != "order.line_accepted.v1" || len(v.Lines) != 1 || *v.Lines[0].Status != "ACCEPT" {
		t.Fatalf("after accept: %+v", v)
	}
	// An order of another seller's product is not shown; one of this seller's is, placed then confirmed.
	newLiveOrder(t, e)
	lo2 := &liveOrder{e: e, user: lo.user, seller: lo.seller, product: lo.product}
	addr := e.address(lo.user)
	r := e.expect(req{method: "POST", path: "/api/v1/orders", token: lo.user.tokens.AccessToken,
		body: map[string]any{"address_id": addr, "lines": []orderLine{{lo.product, 1}}}}, 202)
	var o httpapi.OrderView
	r.decode(t, &o)
	lo2.id = o.ID
	for _, want := range []string{"order.placed.v1", "order.confirmed.v1"} {
		v := decode(st.next(want))
		if v.Type != want || len(v.Lines) != 1 || v.Lines[0].OrderID != o.ID {
			t.Fatalf("seller stream: %+v, want %s of order %s", v, want, o.ID)
		}
	}
	st.none(300 * time.Millisecond)

	// A supervisor names the seller; without seller_id it is 400.
	sup := e.supervisor()
	if _, status, body := openSSE(t, url, sup.tokens.AccessToken, ""); status != 400 {
		t.Fatalf("supervisor without seller_id: %d %s, want 400", status, body)
	}
	if _, status, body := openSSE(t, url+"?seller_id="+lo.seller.id.String(), sup.tokens.AccessToken, ""); status != 200 {
		t.Fatalf("supervisor with seller_id: %d %s", status, body)
	}
}

// One read of the log can hold more changes for a stream than the stream may have queued (a
// seller's stream, after a pause of the log's reader, gets the lines of every order placed
// meanwhile): a client that keeps up gets them all, and the stream is not ended as lagging. Here
// the burst is one append of 200 events to the order a shopper follows.
func testLiveBurst(t *testing.T, s *shop) {
	e := s.server(t)
	base := e.listen()
	lo := newLiveOrder(t, e)
	lo.settled(t, s)
	st := lo.follow(t, base, "")
	if v := orderChange(t, st.next("the state")); v.Type != "state" {
		t.Fatalf("first message: %+v", v)
	}
	ctx := context.Background()
	recs, err := s.store.ReadStream(ctx, "order-"+lo.id.String(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	const burst = 200
	events := make([]eventstore.EventData, burst)
	for i := range events {
		data, err := json.Marshal(order.LineAccepted{LineEvent: order.LineEvent{OrderID: lo.id, UserID: lo.user.id, Line: 1,
			ProductID: lo.product, SellerID: lo.seller.id, Quantity: 2, At: time.Now().UTC()}})
		if err != nil {
			t.Fatal(err)
		}
		events[i] = eventstore.EventData{ID: uuid.New(), Type: order.TypeLineAccepted, Data: data}
	}
	if _, err := s.store.Append(ctx, "order-"+lo.id.String(), eventstore.Exact(int64(len(recs))), events...); err != nil {
		t.Fatal(err)
	}
	for i := range burst {
		if v := orderChange(t, st.next(fmt.Sprintf("change %d of the burst", i+1))); v.Type != order.TypeLineAccepted {
			t.Fatalf("change %d of the burst: %+v", i+1, v)
		}
	}
}

// Shutting the server down ends the open streams at once, with a last comment, and does not
// wait for the clients to leave.
func testLiveShutdown(t *testing.T, s *shop) {
	e := s.server(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.app.Listener(ln) }()
	lo := newLiveOrder(t, e)
	st, status, body := openSSE(t, lo.url("http://"+ln.Addr().String()), lo.user.tokens.AccessToken, "")
	if status != 200 {
		t.Fatalf("GET order events: %d %s", status, body)
	}
	st.next("the state")
	start := time.Now()
	if err := e.app.ShutdownWithTimeout(10 * time.Second); err != nil {
		t.Fatalf("Shutdown with a stream open: %v after %s", err, time.Since(start))
	}
	if err := <-served; err != nil {
		t.Fatalf("Listener: %v", err)
	}
	select {
	case <-st.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open after Shutdown returned")
	}
	var comments []string
	for len(st.comments) > 0 {
		comments = append(comments, <-st.comments)
	}
	if !strings.Contains(strings.Join(comments, "|"), "shutting down") {
		t.Fatalf("comments before the end: %q, want one saying the server is shutting down", comments)
	}
}

// An idle stream gets a comment every LiveHeartbeat, and outlives the server's WriteTimeout.
func testLiveHeartbeat(t *testing.T, s *shop) {
	e := s.server(t, func(d *httpapi.Deps, _ *auth.Config) {
		d.Config.LiveHeartbeat = 50 * time.Millisecond
		d.Config.WriteTimeout = 300 * time.Millisecond
	})
	base := e.listen()
	lo := newLiveOrder(t, e)
	st := lo.follow(t, base, "")
	start := time.Now()
	for i := 0; time.Since(start) < time.Second; i++ {
		select {
		case c := <-st.comments:
			if c != "ping" {
				t.Fatalf("comment %d: %q, want ping", i, c)
			}
		case <-st.ended:
			t.Fatalf("the stream ended after %s (WriteTimeout 300ms)", time.Since(start))
		case <-time.After(10 * time.Second):
			t.Fatalf("no heartbeat %d within 10 s", i)
		}
	}
}

// Both streams are in /openapi.json with their text/event-stream response, Last-Event-ID and 429.
func testLiveOpenAPI(t *testing.T, s *shop) {
	e := s.server(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(e.do(req{method: "GET", path: "/openapi.json"}).body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/orders/{id}/events", "/api/v1/seller/order-lines/events"} {
		o, ok := doc.Paths[path]["get"]
		if !ok {
			t.Fatalf("GET %s is not in /openapi.json", path)
		}
		if _, ok := o.Responses["200"].Content["text/event-stream"]; !ok {
			t.Errorf("GET %s: 200 is not text/event-stream: %+v", path, o.Responses["200"])
		}
		for _, code := range []string{"401", "404", "429"} {
			if _, ok := o.Responses[code]; !ok {
				t.Errorf("GET %s documents no %s", path, code)
			}
		}
		hasLast := false
		for _, p := range o.Parameters {
			hasLast = hasLast || (p.Name == "Last-Event-ID" && p.In == "header")
		}
		if !hasLast || len(o.Security) == 0 {
			t.Errorf("GET %s: parameters %+v security %v: want Last-Event-ID and the bearer scheme", path, o.Parameters, o.Security)
		}
	}
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
