package httpapi

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/readmodels"
)

// liveStateLines is how many of a seller's lines, newest first, the seller stream's first
// message carries.
const liveStateLines = 100

// OrderChangeView is the data of one message of GET /orders/{id}/events: the order as it is after
// the change (or, for the first message, now).
type OrderChangeView struct {
	Type       string              `json:"type" doc:"state for the first message; else the event's type, such as order.confirmed.v1, order.line_shipped.v1, review.written.v1" example:"order.confirmed.v1"`
	Position   eventstore.Position `json:"position" doc:"The log position: the message's SSE id"`
	RecordedAt *time.Time          `json:"recorded_at,omitempty" doc:"When the change was written; absent on the state message"`
	Order      OrderView           `json:"order"`
}

// SellerLinesChangeView is the data of one message of GET /seller/order-lines/events: the lines
// of the seller's products that the change made or changed, as they are after it.
type SellerLinesChangeView struct {
	Type       string              `json:"type" doc:"state for the first message (the newest lines); else the event's type, such as order.placed.v1" example:"order.placed.v1"`
	Position   eventstore.Position `json:"position" doc:"The log position: the message's SSE id"`
	RecordedAt *time.Time          `json:"recorded_at,omitempty"`
	Lines      []SellerLineView    `json:"lines"`
}

// liveLimits counts the open streams of each account.
type liveLimits struct {
	mu   sync.Mutex
	max  int
	open map[uuid.UUID]int
}

// acquire takes one of account's stream slots, or returns false when it has max open.
func (l *liveLimits) acquire(account uuid.UUID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[account] >= l.max {
		return false
	}
	l.open[account]++
	return true
}

func (l *liveLimits) release(account uuid.UUID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[account]--; l.open[account] <= 0 {
		delete(l.open, account)
	}
}

// registerLive adds the Server-Sent Events routes. They are plain fiber routes, since they
// stream: their OpenAPI operations are added by hand, built with op like every other.
func (s *Server) registerLive(app *fiber.App, api huma.API, reg prometheus.Registerer) {
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "live_streams_open", Help: "Live-update streams (Server-Sent Events) open on this server.",
	}, func() float64 { return float64(s.hub.count()) }))
	schemas := api.OpenAPI().Components.Schemas
	lastEventID := &huma.Param{Name: "Last-Event-ID", In: "header", Schema: &huma.Schema{Type: huma.TypeString},
		Description: "The id of the last message received: the stream resumes after it, with every change since and none twice, and without the state message."}
	stream := func(o huma.Operation, a access, data reflect.Type, params ...*huma.Param) {
		o.Errors = append(o.Errors, http.StatusNotFound, http.StatusTooManyRequests, http.StatusServiceUnavailable)
		o = op(o, a)
		o.Parameters = append(params, lastEventID)
		o.Responses = map[string]*huma.Response{"200": {
			Description: "A text/event-stream. Each message has an id (its log position), an event (its type) and one line of JSON data of this schema. A comment line (\": ping\") comes every 15 s.",
			Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: schemas.Schema(data, true, "")}},
		}}
		errSchema := schemas.Schema(reflect.TypeOf(ErrorEnvelope{}), true, "")
		for _, code := range o.Errors {
			o.Responses[strconv.Itoa(code)] = &huma.Response{Description: http.StatusText(code),
				Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}}
		}
		api.OpenAPI().AddOperation(&o)
	}
	stream(huma.Operation{
		OperationID: "order-events", Method: http.MethodGet, Path: "/api/v1/orders/{id}/events", Tags: []string{"orders", "live"},
		Summary: "Follow an order live (Server-Sent Events)",
		Description: "First the order as it is now (event state), then one message per change of the order or a line (settled, accepted, rejected, shipped, delivered, cancel requested and confirmed, reviewed), each with the whole order after it. " +
			"Another user's order is 404. An account may hold a few streams at once; past that, 429. " +
			"503 when the read models lag too far to give the state. Changes written by any instance arrive.",
	}, roles(domain.RoleUser), reflect.TypeOf(OrderChangeView{}),
		&huma.Param{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: huma.TypeString, Format: "uuid"}})
	stream(huma.Operation{
		OperationID: "seller-line-events", Method: http.MethodGet, Path: "/api/v1/seller/order-lines/events", Tags: []string{"seller", "live"},
		Summary:     "Follow the seller's order lines live (Server-Sent Events)",
		Description: "First the seller's newest lines (event state), then one message per change that made or changed lines of the seller's products, with those lines after it. A SUPERVISOR names the seller with seller_id.",
	}, roles(domain.RoleSeller), reflect.TypeOf(SellerLinesChangeView{}),
		&huma.Param{Name: "seller_id", In: "query", Schema: &huma.Schema{Type: huma.TypeString, Format: "uuid"},
			Description: "The seller whose lines to follow: required for a SUPERVISOR, ignored for a SELLER"})

	app.Get("/api/v1/orders/:id/events", s.orderEvents)
	app.Get("/api/v1/seller/order-lines/events", s.sellerLineEvents)
	app.Hooks().OnShutdown(func() error { s.hub.Close(); return nil })
}

// liveCaller checks the bearer token and role of a live route, as the authenticate middleware
// does for the others.
func (s *Server) liveCaller(c *fiber.Ctx, a access) (auth.Principal, error) {
	token, err := bearer(c.Get(fiber.HeaderAuthorization))
	if err != nil {
		return auth.Principal{}, err
	}
	p, err := s.auth.Authenticate(c.UserContext(), token)
	if err != nil {
		return auth.Principal{}, err
	}
	if !a.allows(p.Actor.Role) {
		return auth.Principal{}, errRoleNotAllowed
	}
	return p, nil
}

// lastEventID reads Last-Event-ID: the position to resume after, and whether there is one.
func lastEventID(c *fiber.Ctx) (eventstore.Position, bool, error) {
	v := strings.TrimSpace(c.Get("Last-Event-ID"))
	if v == "" {
		return 0, false, nil
	}
	p, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, domain.Invalidf("VALIDATION", "Last-Event-ID must be a log position (a number) from an earlier message")
	}
	return eventstore.Position(p), true, nil
}

// liveSlot takes a stream slot of the caller, or answers 429.
func (s *Server) liveSlot(p auth.Principal) (func(), error) {
	if !s.liveLimits.acquire(p.Actor.ID) {
		e := errorEnvelope(http.StatusTooManyRequests, http.StatusTooManyRequests,
			fmt.Sprintf("this account has %d live streams open already; close one first", s.cfg.LiveStreamsPerAccount))
		e.headers = http.Header{"Retry-After": {"5"}}
		return nil, e
	}
	return func() { s.liveLimits.release(p.Actor.ID) }, nil
}

// orderFeed is one order's stream: the order as the client last saw it.
type orderFeed struct {
	view    OrderView
	reviews map[int]uuid.UUID
}

// apply moves the feed's view past c, and returns the message to send.
func (f *orderFeed) apply(c *liveChange) OrderChangeView {
	if c.reviewID != uuid.Nil {
		f.reviews[c.line] = c.reviewID
	} else {
		f.view = orderView(c.after)
	}
	f.overlayReviews()
	at := c.rec.RecordedAt.UTC()
	return OrderChangeView{Type: c.rec.Type, Position: c.rec.Position, RecordedAt: &at, Order: f.view}
}

func (f *orderFeed) overlayReviews() {
	for i := range f.view.Lines {
		if id, ok := f.reviews[f.view.Lines[i].Line]; ok {
			f.view.Lines[i].ReviewID = &id
		}
	}
}

func (s *Server) orderEvents(c *fiber.Ctx) error {
	p, err := s.liveCaller(c, roles(domain.RoleUser))
	if err != nil {
		return err
	}
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return domain.NotFoundf(order.CodeNotFound, "order %s not found", c.Params("id"))
	}
	resume, resuming, err := lastEventID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	recs, state, err := s.readOrder(ctx, id)
	if err != nil {
		return err
	}
	if p.Actor.Role != domain.RoleSupervisor && state.UserID != p.Actor.ID {
		return domain.NotFoundf(order.CodeNotFound, "order %s not found", id)
	}
	release, err := s.liveSlot(p)
	if err != nil {
		return err
	}
	sub, from, err := s.hub.subscribe(ctx, liveKey{order: id}, nil)
	if err != nil {
		release()
		return fmt.Errorf("follow order %s: %w", id, err)
	}
	end := func() { s.hub.unsubscribe(sub); release() }
	// What was appended before the subscription began is not fanned out to it: read it here.
	more, err := s.store.ReadStream(ctx, order.StreamID(id), int64(len(recs))+1, 0)
	if err == nil && len(more) > 0 {
		recs = append(recs, more...)
		state, err = foldOrder(recs)
	}
	if err != nil {
		end()
		return fmt.Errorf("read order %s: %w", id, err)
	}
	feed := &orderFeed{view: orderView(state), reviews: map[int]uuid.UUID{}}
	if s.reader != nil {
		// The aggregate knows no reviews: the orders read model does, once it has reached the
		// subscription's start (a later review arrives as a message).
		if err := s.waitOrders(ctx, from); err != nil {
			end()
			return err
		}
		rm, err := s.reader.FindOrder(ctx, id)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			end()
			return fmt.Errorf("read order %s's reviews: %w", id, err)
		}
		for _, l := range rm.Lines {
			if l.ReviewID != nil {
				feed.reviews[l.Line] = *l.ReviewID
			}
		}
	}
	last := recs[len(recs)-1].Position
	return s.stream(c, sub, end, func(ctx context.Context, w *sseWriter) (eventstore.Position, error) {
		if resuming {
			missed, err := s.orderChanges(ctx, id, recs, feed.reviews, resume, from)
			if err != nil {
				return 0, err
			}
			for _, ch := range missed {
				if err := w.write(ch.rec.Position, ch.rec.Type, feed.apply(ch)); err != nil {
					return 0, err
				}
			}
			return max(resume, from), nil
		}
		// The stream may hold events the hub has not fanned out yet: they are in the state, so
		// wait for them, taking in the reviews that come before. What comes after is held for
		// the live loop.
		cursor := from
		for cursor < last {
			select {
			case chs, ok := <-sub.ch:
				if !ok {
					return 0, sub.err
				}
				for i, ch := range chs {
					if cursor >= last {
						sub.held = chs[i:]
						break
					}
					if ch.reviewID != uuid.Nil {
						feed.apply(ch)
					}
					cursor = ch.rec.Position
				}
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		feed.overlayReviews()
		return cursor, w.write(cursor, "state", OrderChangeView{Type: "state", Position: cursor, Order: feed.view})
	}, func(w *sseWriter, ch *liveChange) error {
		return w.write(ch.rec.Position, ch.rec.Type, feed.apply(ch))
	})
}

// orderChanges returns the changes of order id after from up to and including to, in log order:
// its events from recs (its whole stream) and the reviews of its lines from their streams. A
// resuming order stream reads what concerns its order, not the whole log since it left.
func (s *Server) orderChanges(ctx context.Context, id uuid.UUID, recs []eventstore.Record, reviews map[int]uuid.UUID,
	from, to eventstore.Position) ([]*liveChange, error) {
	missed := func(r eventstore.Record) bool { return r.Position > from && r.Position <= to }
	var out []*liveChange
	var state order.Order
	for _, r := range recs {
		e, err := order.Decode(r.Type, r.Data)
		if err != nil {
			return nil, fmt.Errorf("decode %s %s@%d: %w", r.Type, r.Stream, r.Version, err)
		}
		state = order.Evolve(state, e)
		if missed(r) {
			out = append(out, &liveChange{rec: r, orderID: id, after: state})
		}
	}
	for _, reviewID := range reviews {
		rrs, err := s.store.ReadStream(ctx, review.StreamPrefix+reviewID.String(), 1, 0)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return nil, fmt.Errorf("read review %s: %w", reviewID, err)
		}
		for _, r := range rrs {
			var refs liveRefs
			if r.Type == review.TypeWritten && missed(r) && json.Unmarshal(r.Data, &refs) == nil && refs.OrderID == id {
				out = append(out, &liveChange{rec: r, orderID: id, line: refs.Line, reviewID: refs.ReviewID})
			}
		}
	}
	slices.SortFunc(out, func(a, b *liveChange) int { return cmp.Compare(a.rec.Position, b.rec.Position) })
	return out, nil
}

// waitOrders waits, within MinPositionWait, for the orders read model to reach pos: a stream's
// first message reads it. A read model that lags longer is 503, as for ?min_position.
func (s *Server) waitOrders(ctx context.Context, pos eventstore.Position) error {
	if s.positions == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.MinPositionWait)
	defer cancel()
	if err := s.positions.WaitFor(wctx, projectorOrders, pos); err != nil {
		return notFresh()
	}
	return nil
}

// sellerLines returns the lines of seller's products that c made or changed, as they are after it.
func sellerLines(seller uuid.UUID, c *liveChange) []SellerLineView {
	if c.reviewID != uuid.Nil {
		return nil
	}
	var refs liveRefs
	if strings.HasPrefix(c.rec.Type, "order.line_") {
		_ = json.Unmarshal(c.rec.Data, &refs)
	}
	var out []SellerLineView
	o := c.after
	for _, l := range o.Lines {
		if l.SellerID != seller || (refs.Line != 0 && l.Number != refs.Line) {
			continue
		}
		out = append(out, SellerLineView{OrderID: o.ID, OrderLineView: lineView(l), UserID: o.UserID,
			OrderStatus: string(o.Status), Address: addressOf(o.Address), PlacedAt: o.PlacedAt.UTC()})
	}
	return out
}

func (s *Server) sellerLineEvents(c *fiber.Ctx) error {
	p, err := s.liveCaller(c, roles(domain.RoleSeller))
	if err != nil {
		return err
	}
	seller := p.Actor.ID
	if p.Actor.Role == domain.RoleSupervisor {
		if seller, err = uuid.Parse(c.Query("seller_id")); err != nil {
			return domain.Invalidf("VALIDATION", "seller_id: a SUPERVISOR must name the seller (a UUID)")
		}
	}
	resume, resuming, err := lastEventID(c)
	if err != nil {
		return err
	}
	release, err := s.liveSlot(p)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	sub, from, err := s.hub.subscribe(ctx, liveKey{seller: seller}, func(ch *liveChange) bool { return len(sellerLines(seller, ch)) > 0 })
	if err != nil {
		release()
		return fmt.Errorf("follow seller %s: %w", seller, err)
	}
	end := func() { s.hub.unsubscribe(sub); release() }
	var state []SellerLineView
	if !resuming {
		if err := s.waitOrders(ctx, from); err != nil {
			end()
			return err
		}
		list, err := s.reader.ListSellerLines(ctx, readmodels.LineFilter{SellerID: seller, Page: readmodels.Page{Size: liveStateLines}})
		if err != nil {
			end()
			return fmt.Errorf("list seller %s lines: %w", seller, err)
		}
		state = make([]SellerLineView, len(list.Items))
		for i, l := range list.Items {
			state[i] = sellerLineRead(l)
		}
	}
	feed := &sellerFeed{sent: map[sellerLineKey]string{}}
	feed.fresh(state)
	write := func(w *sseWriter, ch *liveChange) error {
		lines := feed.fresh(sellerLines(seller, ch))
		if len(lines) == 0 {
			return nil
		}
		at := ch.rec.RecordedAt.UTC()
		return w.write(ch.rec.Position, ch.rec.Type, SellerLinesChangeView{Type: ch.rec.Type, Position: ch.rec.Position, RecordedAt: &at, Lines: lines})
	}
	return s.stream(c, sub, end, func(ctx context.Context, w *sseWriter) (eventstore.Position, error) {
		if resuming {
			err := catchUp(ctx, s.live, resume, from, func(ch *liveChange) error { return write(w, ch) })
			return max(resume, from), err
		}
		return from, w.write(from, "state", SellerLinesChangeView{Type: "state", Position: from, Lines: state})
	}, write)
}

// sellerLineKey names an order line.
type sellerLineKey struct {
	order uuid.UUID
	line  int
}

// maxSellerLinesSeen bounds the lines a seller stream remembers; past it, it forgets them all
// (and may send a line again that did not change).
const maxSellerLinesSeen = 10_000

// sellerFeed is one seller's stream: how each line was when last sent. The state comes from the
// read model, which may already show changes after the stream's start; those changes are not
// sent again.
type sellerFeed struct {
	sent map[sellerLineKey]string
}

// fresh returns the lines that differ from what the client was last sent, and remembers them.
func (f *sellerFeed) fresh(lines []SellerLineView) []SellerLineView {
	var out []SellerLineView
	for _, l := range lines {
		k := sellerLineKey{l.OrderID, l.Line}
		sig := l.OrderStatus + "|" + deref(l.Status) + "|" + deref(l.DeliveryStatus)
		if f.sent[k] == sig {
			continue
		}
		if len(f.sent) >= maxSellerLinesSeen {
			clear(f.sent)
		}
		f.sent[k] = sig
		out = append(out, l)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sseWriter writes Server-Sent Events to one connection; each write to the connection has its
// own deadline, so the server's WriteTimeout bounds a stuck client, not the stream's life.
// Messages are buffered until flush: the changes of one batch of the log go out together.
type sseWriter struct {
	w       *bufio.Writer
	conn    net.Conn
	timeout time.Duration
}

// deadline gives the next write to the connection WriteTimeout.
func (w *sseWriter) deadline() {
	if w.conn != nil {
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *sseWriter) flush() error {
	w.deadline()
	return w.w.Flush()
}

// write buffers one message: its id, its event name and its data as one line of JSON. A message
// larger than what the buffer has left is written to the connection at once.
func (w *sseWriter) write(id eventstore.Position, event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", event, err)
	}
	w.deadline()
	_, err = fmt.Fprintf(w.w, "id: %d\nevent: %s\ndata: %s\n\n", id, event, b)
	return err
}

// comment writes an SSE comment line: a heartbeat, or why the stream ends.
func (w *sseWriter) comment(text string) error {
	fmt.Fprintf(w.w, ": %s\n\n", text)
	return w.flush()
}

// stream answers c with a text/event-stream: begin writes what comes before the live changes and
// returns the position they start after; each writes one live change (the changes of one batch
// are flushed together); end runs when the stream ends. The stream ends when the client goes,
// the server shuts down, or the subscription ends (the client then resumes).
func (s *Server) stream(c *fiber.Ctx, sub *liveSub, end func(),
	begin func(context.Context, *sseWriter) (eventstore.Position, error), each func(*sseWriter, *liveChange) error) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	conn, shutdown := c.Context().Conn(), c.Context().Done()
	heartbeat, timeout := s.cfg.LiveHeartbeat, s.cfg.WriteTimeout
	c.Context().SetBodyStreamWriter(func(bw *bufio.Writer) {
		defer end()
		w := &sseWriter{w: bw, conn: conn, timeout: timeout}
		// retry tells EventSource clients to reconnect after 1 s.
		if _, err := bw.WriteString("retry: 1000\n\n"); err != nil {
			return
		}
		// begin may read the store: shutdown cancels it. Past it, the loop watches shutdown.
		ctx, cancel := context.WithCancel(context.Background())
		begun := make(chan struct{})
		go func() {
			select {
			case <-shutdown:
				cancel()
			case <-begun:
			}
		}()
		cursor, err := begin(ctx, w)
		close(begun)
		cancel()
		if err != nil {
			if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
				s.log.Warn("live stream could not start", "err", err)
			}
			return
		}
		show := func(chs []*liveChange) error {
			for _, ch := range chs {
				if ch.rec.Position <= cursor {
					continue
				}
				if err := each(w, ch); err != nil {
					return err
				}
			}
			return w.flush()
		}
		if err := show(sub.held); err != nil {
			return
		}
		sub.held = nil
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case chs, ok := <-sub.ch:
				if !ok {
					_ = w.comment("closing: " + sub.err.Error())
					return
				}
				if err := show(chs); err != nil {
					return
				}
			case <-tick.C:
				if err := w.comment("ping"); err != nil {
					return
				}
			case <-shutdown:
				_ = w.comment("closing: the server is shutting down")
				return
			}
		}
	})
	return nil
}
