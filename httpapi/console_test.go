package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
)

// chromium returns the path of Debian's Chromium. A machine without it fails the test: `make
// test` installs it, so a missing browser is a broken set-up, not a reason to skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: install it (apt-get install -y chromium; make test does)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile for the test and returns a tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshots is where the console test saves its screenshots: $CONSOLE_SCREENSHOTS when set
// (the README's pictures are made so), else a temporary folder.
func screenshots(t *testing.T) string {
	if dir := os.Getenv("CONSOLE_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestConsole drives the operators' console in headless Chromium: it logs in as a SUPERVISOR,
// finds an order the test placed, sees its timeline with the stock reservation and the
// confirmation, starts a rebuild and watches it reach 100 %.
func TestConsole(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	e := s.server(t)
	base := e.listen()
	sup, seller, user := e.supervisor(), e.seller(), e.user()
	c := e.catalog(sup)
	// A product whose name is markup: the console shows it as text.
	var p httpapi.ProductView
	e.expect(req{method: "POST", path: "/api/v1/products", token: seller.tokens.AccessToken, body: map[string]any{
		"item_id": c.item, "name": `<img id="xss" src="x">Runner`, "price": 1500, "stock": 10}}, 201).decode(t, &p)
	e.expect(req{method: "POST", path: "/api/v1/products/" + p.ID.String() + "/status", token: seller.tokens.AccessToken,
		body: map[string]any{"status": "SELL"}}, 200)
	addr := e.address(user)
	o, _ := e.order(user, addr, orderLine{p.ID, 2})
	if o.Status != "ORDER" {
		t.Fatalf("order: %+v, want ORDER", o)
	}

	// Without a session every page sends the browser to the login form.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/console/projections")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("GET /console/projections without a session: %d to %q, want 303 to /console/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A USER's credentials do not open the console.
	resp, err = noRedirect.PostForm(base+"/console/login", url.Values{"email": {user.email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("console login as a USER: %d with cookies %v, want 401 and none: %s", resp.StatusCode, resp.Cookies(), body)
	}

	shots := screenshots(t)
	ctx := newBrowser(t)
	save := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(shots, name), png, 0o644)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read the text of %s: %v", sel, err)
		}
		return v
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/console"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, sup.email),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Click(`#login`),
		chromedp.WaitVisible(`#find`),
		chromedp.SendKeys(`input[name=q]`, o.ID.String()),
		chromedp.Click(`#find`),
		chromedp.WaitVisible(`#timeline`),
		save("streams.png"),
	)
	if err != nil {
		t.Fatalf("log in and find the order: %v", err)
	}
	streamText := text("main")
	err = chromedp.Do(ctx,
		chromedp.Click(`#timeline`),
		chromedp.WaitVisible(`#timeline-events`),
		save("timeline.png"),
	)
	if err != nil {
		t.Fatalf("open the order's timeline: %v", err)
	}
	timelineText := text("main")
	xss, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("xss") === null ? "escaped" : "injected"`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"order-" + o.ID.String(), "order.placed.v1", "order.confirmed.v1", "corr "} {
		if !strings.Contains(streamText, want) {
			t.Errorf("the order's stream page does not show %q:\n%s", want, streamText)
		}
	}
	for _, want := range []string{"order.placed.v1", "product.stock_reserved.v1", "reservation of 2", "−2 → stock 8", "order.confirmed.v1", `<img id="xss" src="x">Runner`, "USER"} {
		if !strings.Contains(timelineText, want) {
			t.Errorf("the order's timeline does not show %q:\n%s", want, timelineText)
		}
	}
	if xss != "escaped" {
		t.Errorf("a product name's markup became an element on the timeline page")
	}
	if strings.Index(timelineText, "product.stock_reserved.v1") > strings.Index(timelineText, "order.confirmed.v1") {
		t.Errorf("the timeline shows the confirmation before the reservation:\n%s", timelineText)
	}

	// The projections page: rebuild one and watch it reach 100 %, with the log's tail below.
	var progress string
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/projections"),
		chromedp.WaitVisible(`#projection-reviews button.rebuild`),
		chromedp.Click(`#projection-reviews button.rebuild`),
	)
	if err != nil {
		t.Fatalf("start a rebuild in the console: %v", err)
	}
	// A write after the page opened shows in the tail.
	e.order(user, addr, orderLine{p.ID, 1})
	// htmx replaces the table every second: read it in one script, not node by node.
	progressJS := `(document.querySelector("#projection-reviews .progress") || {}).innerText || ""`
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(progress, "100 %") {
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild's progress is %q after 90 s, want 100 %%", progress)
		}
		time.Sleep(200 * time.Millisecond)
		if progress, err = chromedp.Run(ctx, chromedp.Evaluate[string](progressJS)); err != nil {
			t.Fatalf("read the rebuild's progress: %v", err)
		}
	}
	err = chromedp.Do(ctx,
		chromedp.Poll[chromedp.Void](`document.querySelector("#tail") && document.querySelector("#tail").innerText.includes("order.confirmed.v1")`,
			chromedp.WithPollingTimeout(30*time.Second)),
		save("projections.png"),
	)
	if err != nil {
		tail, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#tail").innerText`))
		t.Fatalf("the log's tail on the projections page: %v (it shows %q)", err, tail)
	}
	t.Logf("screenshots in %s", shots)
}

// The console answers an unknown order and stream with an HTML 404, and a bare uuid finds its stream.
func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	e := s.server(t)
	base := e.listen()
	sup := e.supervisor()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/console/login", url.Values{"email": {sup.email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "commerce_console" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("console login: %d with cookie %+v, want 303 and an HttpOnly, SameSite=Strict session cookie", resp.StatusCode, session)
	}
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	for _, path := range []string{"/console/orders/" + uuid.NewString(), "/console/streams/order-" + uuid.NewString(), "/console/orders/nope"} {
		if status, _, body := get(path); status != 404 || !strings.Contains(body, "<html") {
			t.Errorf("GET %s: %d, want an HTML 404: %s", path, status, body)
		}
	}
	cat := e.catalog(sup)
	// The read models have the category once the catalog's projection has reached its position.
	e.expect(req{method: "GET", path: at("/api/v1/categories?size=100", cat.pos)}, 200)
	if status, loc, _ := get("/console/streams?q=" + cat.item.String()); status != 303 || loc != "/console/streams/item-"+cat.item.String() {
		t.Errorf("find a bare item id: %d to %q, want 303 to its stream", status, loc)
	}
	for _, typ := range []string{"order", "product", "category", "brand", "item", "review"} {
		if status, _, body := get("/console/streams?type=" + typ); status != 200 {
			t.Errorf("list %s streams: %d %s (logged: %v)", typ, status, body, e.logs.lines("request failed"))
		}
	}
	if status, _, body := get("/console/streams?type=category"); !strings.Contains(body, "category-"+cat.category.String()) {
		t.Errorf("the category list (%d) does not show the category the test made:\n%s", status, body)
	}
	if status, _, body := get("/console/htmx.min.js"); status != 200 || !strings.Contains(body, "htmx") {
		t.Errorf("GET /console/htmx.min.js: %d, %d bytes", status, len(body))
	}
	// Logging out revokes the token: the cookie no longer opens the console.
	resp, err = client.PostForm(base+"/console/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base + "/console/")
	jar.SetCookies(u, []*http.Cookie{session})
	if status, loc, _ := get("/console/streams"); status != 303 || loc != "/console/login" {
		t.Errorf("after logout, the old session cookie: %d to %q, want 303 to the login form", status, loc)
	}
}
