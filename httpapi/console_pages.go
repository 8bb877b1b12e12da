package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/readmodels"
)

// streamTypes are the stream types the console finds, by their stream id prefixes.
var streamTypes = []struct{ name, prefix string }{
	{"order", order.StreamPrefix},
	{"product", product.StreamPrefix},
	{"category", catalog.CategoryStreamPrefix},
	{"brand", catalog.BrandStreamPrefix},
	{"item", catalog.ItemStreamPrefix},
	{"review", review.StreamPrefix},
}

// consoleProductReads bounds how many of a product's newest events the order timeline reads to
// find the stock movements an order caused: a hot product has one per order.
const consoleProductReads = 5000

// consoleEvent is one stored event as the console shows it.
type consoleEvent struct {
	Version     int64
	Position    eventstore.Position
	Time        string
	Type        string
	Stream      string
	ActorRole   string
	ActorID     string
	ActorHref   string
	Correlation string
	Causation   string
	Data        string
	Links       []consoleLink
	Summary     string
	Stock       *consoleStock
}

type consoleLink struct{ Label, Href string }

// consoleStock is a stock movement on a product.
type consoleStock struct{ Text, Class string }

// linkTargets maps the id fields of event data to where the console shows them.
var linkTargets = map[string]func(string) consoleLink{
	"order_id": func(id string) consoleLink { return consoleLink{"order " + id[:8], "/console/orders/" + id} },
	"product_id": func(id string) consoleLink {
		return consoleLink{"product " + id[:8], "/console/streams/" + product.StreamPrefix + id}
	},
	"review_id": func(id string) consoleLink {
		return consoleLink{"review " + id[:8], "/console/streams/" + review.StreamPrefix + id}
	},
	"item_id": func(id string) consoleLink {
		return consoleLink{"item " + id[:8], "/console/streams/" + catalog.ItemStreamPrefix + id}
	},
	"category_id": func(id string) consoleLink {
		return consoleLink{"category " + id[:8], "/console/streams/" + catalog.CategoryStreamPrefix + id}
	},
	"brand_id": func(id string) consoleLink {
		return consoleLink{"brand " + id[:8], "/console/streams/" + catalog.BrandStreamPrefix + id}
	},
	"user_id":   func(id string) consoleLink { return consoleLink{"user " + id[:8], "/console/users/" + id} },
	"seller_id": func(id string) consoleLink { return consoleLink{"seller " + id[:8], "/console/sellers/" + id} },
}

// links finds the ids in an event's data (at any depth: an order's lines name their products)
// and links each to its stream or page, once.
func links(stream string, data json.RawMessage) []consoleLink {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	var out []consoleLink
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if s, ok := v[k].(string); ok {
					if to, ok := linkTargets[k]; ok && uuid.Validate(s) == nil {
						l := to(s)
						if !seen[l.Href] && !strings.HasSuffix(l.Href, "/"+stream) {
							seen[l.Href] = true
							out = append(out, l)
						}
					}
					continue
				}
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// eventOf is a record as the console shows it.
func eventOf(r eventstore.Record) consoleEvent {
	m := eventstore.ParseMetadata(r.Metadata)
	e := consoleEvent{Version: r.Version, Position: r.Position, Time: consoleTime(r.RecordedAt), Type: r.Type, Stream: r.Stream,
		ActorRole: m.ActorRole}
	if m.ActorID != uuid.Nil {
		e.ActorID = m.ActorID.String()
		switch domain.Role(m.ActorRole) {
		case domain.RoleUser:
			e.ActorHref = "/console/users/" + e.ActorID
		case domain.RoleSeller:
			e.ActorHref = "/console/sellers/" + e.ActorID
		}
	}
	if m.CorrelationID != uuid.Nil {
		e.Correlation = "corr " + m.CorrelationID.String()
	}
	if m.CausationID != uuid.Nil {
		e.Causation = "cause " + m.CausationID.String()
	}
	if len(r.Data) > 0 {
		// Indented as it is, not re-encoded: html/template escapes it for the page.
		var pretty bytes.Buffer
		if json.Indent(&pretty, r.Data, "", "  ") == nil {
			e.Data = pretty.String()
		}
		e.Links = links(r.Stream, r.Data)
	}
	return e
}

type streamListItem struct{ ID, Label string }

type streamsData struct {
	pageData
	Query, Type, Error string
	Types              []string
	Streams            []streamListItem
	Total              int64
	Pager              pager
}

// streams finds a stream by its id (or by a bare uuid, trying each type), or lists the streams of
// a type from the read models, newest first.
func (c *console) streams(f *fiber.Ctx) error {
	ctx := f.UserContext()
	d := streamsData{pageData: c.layout(f, "Streams"), Query: strings.TrimSpace(f.Query("q")), Type: f.Query("type")}
	for _, t := range streamTypes {
		d.Types = append(d.Types, t.name)
	}
	if d.Query != "" {
		candidates := []string{d.Query}
		if uuid.Validate(d.Query) == nil {
			candidates = nil
			for _, t := range streamTypes {
				if d.Type == "" || d.Type == t.name {
					candidates = append(candidates, t.prefix+d.Query)
				}
			}
		}
		for _, id := range candidates {
			recs, err := c.s.store.ReadStreamBackward(ctx, id, 1)
			if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(recs) == 0) {
				continue
			}
			if err != nil {
				return fmt.Errorf("find stream %s: %w", id, err)
			}
			return f.Redirect("/console/streams/"+url.PathEscape(id), http.StatusSeeOther)
		}
		d.Error = fmt.Sprintf("No stream %q.", d.Query)
		return c.render(f, http.StatusNotFound, "streams", d)
	}
	if d.Type != "" {
		n, _ := consolePage(f, 0)
		if err := c.listStreams(f, &d, readmodels.Page{Number: n, Size: consolePageSize}); err != nil {
			return err
		}
		_, d.Pager = consolePage(f, d.Total)
	}
	return c.render(f, http.StatusOK, "streams", d)
}

// listStreams lists one page of the streams of d.Type through the read models.
func (c *console) listStreams(f *fiber.Ctx, d *streamsData, page readmodels.Page) error {
	ctx, r := f.UserContext(), c.s.reader
	add := func(prefix string, id uuid.UUID, label string) {
		d.Streams = append(d.Streams, streamListItem{ID: prefix + id.String(), Label: label})
	}
	switch d.Type {
	case "order":
		l, err := r.ListAllOrders(ctx, readmodels.OrderFilter{Page: page})
		if err != nil {
			return err
		}
		for _, o := range l.Items {
			add(order.StreamPrefix, o.ID, fmt.Sprintf("%s · %d lines · %d KRW · %s", o.Status, len(o.Lines), o.Total, consoleTime(o.PlacedAt)))
		}
		d.Total = l.Total
	case "product":
		l, err := r.ListSellerProducts(ctx, readmodels.SellerProductFilter{Page: page})
		if err != nil {
			return err
		}
		for _, p := range l.Items {
			add(product.StreamPrefix, p.ID, fmt.Sprintf("%s · %s · stock %d", p.Name, p.Status, p.Stock))
		}
		d.Total = l.Total
	case "category":
		l, err := r.ListCategories(ctx, page)
		if err != nil {
			return err
		}
		for _, x := range l.Items {
			add(catalog.CategoryStreamPrefix, x.ID, x.Name)
		}
		d.Total = l.Total
	case "brand":
		l, err := r.ListBrands(ctx, page)
		if err != nil {
			return err
		}
		for _, x := range l.Items {
			add(catalog.BrandStreamPrefix, x.ID, x.Name)
		}
		d.Total = l.Total
	case "item":
		l, err := r.ListItems(ctx, readmodels.ItemFilter{Page: page})
		if err != nil {
			return err
		}
		for _, x := range l.Items {
			add(catalog.ItemStreamPrefix, x.ID, x.Name)
		}
		d.Total = l.Total
	case "review":
		l, err := r.ListReviews(ctx, page)
		if err != nil {
			return err
		}
		for _, x := range l.Items {
			add(review.StreamPrefix, x.ID, fmt.Sprintf("%d★ · %s", x.Rating, x.Content))
		}
		d.Total = l.Total
	default:
		return domain.Invalidf("VALIDATION", "type: one of order, product, category, brand, item, review")
	}
	return nil
}

// stream pages through one stream's events, oldest first, with their metadata and links.
func (c *console) stream(f *fiber.Ctx) error {
	ctx := f.UserContext()
	id, err := url.PathUnescape(f.Params("stream"))
	if err != nil {
		id = f.Params("stream")
	}
	last, err := c.s.store.ReadStreamBackward(ctx, id, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(last) == 0) {
		return domain.NotFoundf("STREAM_NOT_FOUND", "stream %s not found", id)
	}
	if err != nil {
		return fmt.Errorf("read stream %s: %w", id, err)
	}
	total := last[0].Version
	n, pg := consolePage(f, total)
	recs, err := c.s.store.ReadStream(ctx, id, int64(n*consolePageSize)+1, consolePageSize)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", id, err)
	}
	d := struct {
		pageData
		Stream, Timeline string
		Total            int64
		Events           []consoleEvent
		Pager            pager
	}{pageData: c.layout(f, id), Stream: id, Total: total, Pager: pg}
	if oid, ok := strings.CutPrefix(id, order.StreamPrefix); ok && uuid.Validate(oid) == nil {
		d.Timeline = "/console/orders/" + oid
	}
	for _, r := range recs {
		d.Events = append(d.Events, eventOf(r))
	}
	return c.render(f, http.StatusOK, "stream", d)
}

// timeline shows every event of one order, of its lines' reviews and of the stock it moved on
// each product, in log order, with who did it.
func (c *console) timeline(f *fiber.Ctx) error {
	ctx := f.UserContext()
	id, err := parseID(f, "order")
	if err != nil {
		return err
	}
	recs, state, err := c.s.readOrder(ctx, id)
	if err != nil {
		return err
	}
	all := slices.Clone(recs)
	products := map[uuid.UUID]bool{}
	note := ""
	for _, l := range state.Lines {
		if products[l.ProductID] {
			continue
		}
		products[l.ProductID] = true
		prs, err := c.s.store.ReadStreamBackward(ctx, product.StreamID(l.ProductID), consoleProductReads)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("read product %s: %w", l.ProductID, err)
		}
		if len(prs) == consoleProductReads {
			note = fmt.Sprintf("Stock movements are looked for in the newest %d events of each product.", consoleProductReads)
		}
		for _, r := range prs {
			var refs liveRefs
			if json.Unmarshal(r.Data, &refs) == nil && refs.OrderID == id {
				all = append(all, r)
			}
		}
	}
	if c.s.reader != nil {
		if rm, err := c.s.reader.FindOrder(ctx, id); err == nil {
			for _, l := range rm.Lines {
				if l.ReviewID == nil {
					continue
				}
				rrs, err := c.s.store.ReadStream(ctx, review.StreamPrefix+l.ReviewID.String(), 1, 0)
				if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
					return fmt.Errorf("read review %s: %w", l.ReviewID, err)
				}
				all = append(all, rrs...)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Position < all[j].Position })
	events := make([]consoleEvent, len(all))
	for i, r := range all {
		events[i] = eventOf(r)
		events[i].Summary, events[i].Stock = summarize(r, state)
	}
	return c.render(f, http.StatusOK, "timeline", struct {
		pageData
		Order        order.Order
		Placed, Note string
		Events       []consoleEvent
	}{c.layout(f, "Order "+id.String()), state, consoleTime(state.PlacedAt), note, events})
}

// summarize says in words what an event of an order's timeline did, and the stock it moved.
func summarize(r eventstore.Record, o order.Order) (string, *consoleStock) {
	var d struct {
		Line     int    `json:"line"`
		Quantity int    `json:"quantity"`
		Stock    int    `json:"stock"`
		Reason   string `json:"reason"`
		Rating   int    `json:"rating"`
		Content  string `json:"content"`
	}
	_ = json.Unmarshal(r.Data, &d)
	name := func(n int) string {
		if l, ok := o.Line(n); ok {
			return fmt.Sprintf("line %d (%s × %d)", n, l.ProductName, l.Quantity)
		}
		return fmt.Sprintf("line %d", n)
	}
	switch r.Type {
	case order.TypePlaced:
		return fmt.Sprintf("placed: %d lines, %d KRW; PENDING", len(o.Lines), o.Total), nil
	case order.TypeConfirmed:
		return "confirmed: stock reserved for every line; ORDER", nil
	case order.TypeRejected:
		return "rejected: " + d.Reason, nil
	case order.TypeLineAccepted:
		return name(d.Line) + " accepted by the seller", nil
	case order.TypeLineRejected:
		return name(d.Line) + " rejected by the seller: " + d.Reason, nil
	case order.TypeLineShipped:
		return name(d.Line) + " shipped", nil
	case order.TypeLineDelivered:
		return name(d.Line) + " delivered", nil
	case order.TypeLineCancelRequested:
		return name(d.Line) + ": the user asked to cancel", nil
	case order.TypeLineCancelled:
		return name(d.Line) + " cancelled by the seller", nil
	case product.TypeStockReserved:
		return fmt.Sprintf("reservation of %d", d.Quantity), &consoleStock{fmt.Sprintf("−%d → stock %d", d.Quantity, d.Stock), "minus"}
	case product.TypeStockReleased:
		return fmt.Sprintf("release of %d", d.Quantity), &consoleStock{fmt.Sprintf("+%d → stock %d", d.Quantity, d.Stock), "plus"}
	case product.TypeReservationCommitted:
		return fmt.Sprintf("reservation of %d spent (delivered)", d.Quantity), &consoleStock{"±0", "muted"}
	case review.TypeWritten:
		return fmt.Sprintf("%s reviewed: %d★ %s", name(d.Line), d.Rating, d.Content), nil
	}
	return "", nil
}

type accountOrder struct {
	ID             uuid.UUID
	Placed, Status string
	Lines          string
}

// userOrders lists a user's orders, each linked to its timeline.
func (c *console) userOrders(f *fiber.Ctx) error {
	id, err := parseID(f, "user")
	if err != nil {
		return err
	}
	n, _ := consolePage(f, 0)
	l, err := c.s.reader.ListUserOrders(f.UserContext(), id, readmodels.OrderFilter{Page: readmodels.Page{Number: n, Size: consolePageSize}})
	if err != nil {
		return err
	}
	_, pg := consolePage(f, l.Total)
	rows := make([]accountOrder, len(l.Items))
	for i, o := range l.Items {
		var names []string
		for _, ln := range o.Lines {
			names = append(names, fmt.Sprintf("%s × %d (%s)", ln.ProductName, ln.Quantity, ln.Status))
		}
		rows[i] = accountOrder{ID: o.ID, Placed: consoleTime(o.PlacedAt), Status: string(o.Status), Lines: strings.Join(names, ", ")}
	}
	return c.render(f, http.StatusOK, "account", struct {
		pageData
		Heading string
		Orders  []accountOrder
		Pager   pager
	}{c.layout(f, "User"), fmt.Sprintf("User %s: %d orders", id, l.Total), rows, pg})
}

// sellerOrders lists the order lines of a seller's products, each linked to its order's timeline.
func (c *console) sellerOrders(f *fiber.Ctx) error {
	id, err := parseID(f, "seller")
	if err != nil {
		return err
	}
	n, _ := consolePage(f, 0)
	l, err := c.s.reader.ListSellerLines(f.UserContext(), readmodels.LineFilter{SellerID: id, Page: readmodels.Page{Number: n, Size: consolePageSize}})
	if err != nil {
		return err
	}
	_, pg := consolePage(f, l.Total)
	rows := make([]accountOrder, len(l.Items))
	for i, ln := range l.Items {
		rows[i] = accountOrder{ID: ln.OrderID, Placed: consoleTime(ln.PlacedAt), Status: string(ln.OrderStatus),
			Lines: fmt.Sprintf("line %d: %s × %d (%s, %s)", ln.Line, ln.ProductName, ln.Quantity, ln.Status, ln.DeliveryStatus)}
	}
	return c.render(f, http.StatusOK, "account", struct {
		pageData
		Heading string
		Orders  []accountOrder
		Pager   pager
	}{c.layout(f, "Seller"), fmt.Sprintf("Seller %s: %d order lines", id, l.Total), rows, pg})
}

type projectionRow struct {
	ProjectionInfo
	Base, StateClass, Updated, Progress string
	Percent                             int
}

type relayRow struct {
	Name, Updated  string
	Position, Head eventstore.Position
	Lag            uint64
}

type projectionsTable struct {
	Projections []projectionRow
	Relays      []relayRow
	Error       string
}

// table reads the projections' and the relays' state.
func (c *console) table(f *fiber.Ctx) (projectionsTable, error) {
	ctx := f.UserContext()
	infos, err := c.s.projections.Projections(ctx)
	if err != nil {
		return projectionsTable{}, err
	}
	var t projectionsTable
	for _, in := range infos {
		row := projectionRow{ProjectionInfo: in, Base: strings.Split(in.Name, ".")[0], StateClass: "ok"}
		switch in.Status {
		case "failing":
			row.StateClass = "bad"
		case "rebuilding", "standby":
			row.StateClass = "warn"
		}
		if in.UpdatedAt != nil {
			row.Updated = consoleTime(*in.UpdatedAt)
		}
		rb, started := c.rebuildState(in.Name)
		switch {
		case in.Rebuild != nil && in.Rebuild.Total > 0:
			row.Percent = int(min(99, in.Rebuild.Done*100/in.Rebuild.Total))
			row.Progress = fmt.Sprintf("%d %% (%d of %d events)", row.Percent, in.Rebuild.Done, in.Rebuild.Total)
		case started && rb.running:
			row.Progress = "starting"
		case started && rb.err != nil:
			row.Progress = "failed: " + rb.err.Error()
		case started:
			row.Percent = 100
			row.Progress = "100 % (rebuilt at " + consoleTime(rb.ended) + ")"
		}
		t.Projections = append(t.Projections, row)
	}
	head, err := c.head(ctx)
	if err != nil {
		return projectionsTable{}, err
	}
	relays, err := c.s.reader.RelayCheckpoints(ctx)
	if err != nil {
		return projectionsTable{}, err
	}
	for _, r := range relays {
		pos := eventstore.Position(r.Position)
		t.Relays = append(t.Relays, relayRow{Name: r.Name, Position: pos, Head: head, Lag: uint64(head - min(head, pos)), Updated: consoleTime(r.UpdatedAt)})
	}
	return t, nil
}

// projections is the projections page: the table and the tail of the log, both refreshed every
// second by htmx.
func (c *console) projections(f *fiber.Ctx) error {
	t, err := c.table(f)
	if err != nil {
		return err
	}
	return c.render(f, http.StatusOK, "projections", struct {
		pageData
		Table projectionsTable
	}{c.layout(f, "Projections"), t})
}

func (c *console) projectionsTable(f *fiber.Ctx) error {
	t, err := c.table(f)
	if err != nil {
		return err
	}
	return c.render(f, http.StatusOK, "projections-table", t)
}

// rebuild starts a rebuild and answers the table; a refusal (unknown, already running) shows in it.
func (c *console) rebuild(f *fiber.Ctx) error {
	name := f.Params("name")
	startErr := c.startRebuild(f.UserContext(), name)
	t, err := c.table(f)
	if err != nil {
		return err
	}
	if startErr != nil {
		e := toEnvelope(startErr)
		if e.status == http.StatusInternalServerError {
			return startErr
		}
		t.Error = e.Result.ResultDescription
	}
	return c.render(f, http.StatusOK, "projections-table", t)
}

// tail shows the newest events this server's follower of the log has seen.
func (c *console) tail(f *fiber.Ctx) error {
	recs, pos, err := c.s.hub.tail(f.UserContext())
	if err != nil {
		return err
	}
	events := make([]consoleEvent, len(recs))
	for i, r := range recs {
		events[i] = eventOf(r)
	}
	return c.render(f, http.StatusOK, "tail", struct {
		Position eventstore.Position
		Events   []consoleEvent
	}{pos, events})
}
