package httpapi

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// The console's templates and htmx (htmx.org 2.0.11 from npm, vendored: nothing is fetched at
// run time).
//
//go:embed console/templates.html console/htmx.min.js
var consoleFS embed.FS

var consoleTemplates = template.Must(template.ParseFS(consoleFS, "console/templates.html"))

// consoleCookie holds the SUPERVISOR access token of a console session.
const consoleCookie = "commerce_console"

// consolePageSize is how many rows a console page shows.
const consolePageSize = 20

// console serves the operators' web console under /console: server-rendered pages for a
// SUPERVISOR, whose token lives in an HttpOnly, SameSite=Strict cookie set by the console's own
// login form.
type console struct {
	s *Server

	mu       sync.Mutex
	rebuilds map[string]*consoleRebuild // the rebuilds started from this console, by projection
}

// consoleRebuild is a rebuild started from the console: the runner reports progress while it
// runs; the console remembers how it ended.
type consoleRebuild struct {
	running bool
	err     error
	ended   time.Time
}

type principalLocal struct{}

// registerConsole adds the console's routes; GET /console is in the OpenAPI document, the pages
// below it are not API routes.
func (s *Server) registerConsole(app *fiber.App, api huma.API) {
	c := &console{s: s, rebuilds: map[string]*consoleRebuild{}}
	home := op(huma.Operation{
		OperationID: "console", Method: http.MethodGet, Path: "/console", Tags: []string{"operations"},
		Summary:     "The operators' web console (HTML)",
		Description: "Streams, order timelines, projections and rebuilds, and a live tail of the log. Log in with a SUPERVISOR account on its own form; the session is an HttpOnly cookie.",
	}, public)
	home.Responses = map[string]*huma.Response{"200": {Description: "An HTML page",
		Content: map[string]*huma.MediaType{"text/html": {Schema: &huma.Schema{Type: huma.TypeString}}}}}
	api.OpenAPI().AddOperation(&home)

	app.Get("/console/htmx.min.js", c.asset)
	app.Get("/console/login", c.loginForm)
	app.Post("/console/login", c.login)
	app.Post("/console/logout", c.logout)
	app.Get("/console", c.page(func(f *fiber.Ctx) error { return f.Redirect("/console/streams", http.StatusSeeOther) }))
	app.Get("/console/streams", c.page(c.streams))
	app.Get("/console/streams/:stream", c.page(c.stream))
	app.Get("/console/orders/:id", c.page(c.timeline))
	app.Get("/console/users/:id", c.page(c.userOrders))
	app.Get("/console/sellers/:id", c.page(c.sellerOrders))
	app.Get("/console/projections", c.page(c.projections))
	app.Get("/console/projections/table", c.page(c.projectionsTable))
	app.Post("/console/projections/:name/rebuild", c.page(c.rebuild))
	app.Get("/console/tail", c.page(c.tail))
}

func (c *console) asset(f *fiber.Ctx) error {
	data, err := consoleFS.ReadFile("console/htmx.min.js")
	if err != nil {
		return fmt.Errorf("read htmx: %w", err)
	}
	f.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	f.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return f.Send(data)
}

// pageData is what every page's layout shows.
type pageData struct {
	Title string
	Who   string
}

// render writes template name with data as an HTML page (or fragment), with a Content Security
// Policy that allows only the console's own script.
func (c *console) render(f *fiber.Ctx, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := consoleTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render console %s: %w", name, err)
	}
	f.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	f.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	f.Set(fiber.HeaderCacheControl, "no-store")
	return f.Status(status).Send(buf.Bytes())
}

// page wraps a console handler: the caller must hold a SUPERVISOR session (else the login form),
// and errors are answered as an HTML page with the status the API would give them.
func (c *console) page(h fiber.Handler) fiber.Handler {
	return func(f *fiber.Ctx) error {
		p, err := c.s.auth.Authenticate(f.UserContext(), f.Cookies(consoleCookie))
		if err != nil || p.Actor.Role != domain.RoleSupervisor {
			if f.Get("HX-Request") != "" {
				f.Set("HX-Redirect", "/console/login")
				return f.SendStatus(http.StatusUnauthorized)
			}
			return f.Redirect("/console/login", http.StatusSeeOther)
		}
		f.Locals(principalLocal{}, p)
		err = h(f)
		if err == nil {
			return nil
		}
		e := toEnvelope(err)
		if e.cause != nil || e.status == http.StatusInternalServerError {
			id, _ := f.Locals(requestIDKey{}).(string)
			c.s.logServerError(f.UserContext(), id, f.Method(), f.Path(), e)
		}
		return c.render(f, e.status, "error", struct {
			pageData
			Status int
			Error  string
		}{c.layout(f, "Error"), e.status, e.Result.ResultDescription})
	}
}

func (c *console) layout(f *fiber.Ctx, title string) pageData {
	p, _ := f.Locals(principalLocal{}).(auth.Principal)
	return pageData{Title: title, Who: p.Email}
}

type loginData struct {
	pageData
	Email string
	Error string
}

func (c *console) loginForm(f *fiber.Ctx) error {
	return c.render(f, http.StatusOK, "login", loginData{pageData: pageData{Title: "Log in"}})
}

// login checks the form's SUPERVISOR credentials and keeps the access token in the session
// cookie; a wrong password, or an account of another role, is the same 401 as the API's.
func (c *console) login(f *fiber.Ctx) error {
	email := strings.TrimSpace(f.FormValue("email"))
	// The same limit per client address as POST /auth/login.
	if allowed, wait := c.s.limit.allow("console-login "+f.IP(), time.Now()); !allowed {
		f.Set(fiber.HeaderRetryAfter, retryAfter(wait.Seconds()))
		return c.render(f, http.StatusTooManyRequests, "login", loginData{pageData: pageData{Title: "Log in"}, Email: email,
			Error: "Too many attempts from this address; try again in a moment."})
	}
	pair, err := c.s.auth.Login(f.UserContext(), email, f.FormValue("password"), domain.RoleSupervisor)
	if err != nil {
		e := toEnvelope(err)
		if e.status == http.StatusInternalServerError {
			return err
		}
		return c.render(f, e.status, "login", loginData{pageData: pageData{Title: "Log in"}, Email: email, Error: e.Result.ResultDescription})
	}
	f.Cookie(&fiber.Cookie{Name: consoleCookie, Value: pair.AccessToken, Path: "/console", Expires: pair.ExpiresAt,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: f.Protocol() == "https"})
	return f.Redirect("/console/streams", http.StatusSeeOther)
}

// logout ends the console session: the token is revoked like on POST /auth/logout.
func (c *console) logout(f *fiber.Ctx) error {
	if p, err := c.s.auth.Authenticate(f.UserContext(), f.Cookies(consoleCookie)); err == nil {
		if err := c.s.auth.Logout(f.UserContext(), p, ""); err != nil {
			return fmt.Errorf("log out of the console: %w", err)
		}
	}
	f.Cookie(&fiber.Cookie{Name: consoleCookie, Value: "", Path: "/console", Expires: time.Unix(0, 0),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
	return f.Redirect("/console/login", http.StatusSeeOther)
}

// pager links the pages of a list.
type pager struct {
	Number, Pages int
	Prev, Next    string
}

// consolePage reads ?page (0-based) and returns it and the pager of a list of total rows.
func consolePage(f *fiber.Ctx, total int64) (int, pager) {
	n, _ := strconv.Atoi(f.Query("page"))
	pages := int((total + consolePageSize - 1) / consolePageSize)
	n = max(0, min(n, pages-1))
	link := func(to int) string {
		q, _ := url.ParseQuery(string(f.Request().URI().QueryString()))
		q.Set("page", strconv.Itoa(to))
		return f.Path() + "?" + q.Encode()
	}
	p := pager{Number: n + 1, Pages: max(pages, 1)}
	if n > 0 {
		p.Prev = link(n - 1)
	}
	if n+1 < pages {
		p.Next = link(n + 1)
	}
	return n, p
}

// consoleTime formats a time for the console's tables.
func consoleTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

// rebuildState returns how the last rebuild of name started from this console went, if one was.
func (c *console) rebuildState(name string) (consoleRebuild, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rebuilds[name]
	if !ok {
		return consoleRebuild{}, false
	}
	return *r, true
}

// startRebuild rebuilds projection name in the background, as POST /admin/projections/{name}/rebuild
// does, and remembers how it ends.
func (c *console) startRebuild(ctx context.Context, name string) error {
	started, done := make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		err := c.s.projections.Rebuild(context.WithoutCancel(ctx), name, func() {
			once.Do(func() {
				c.mu.Lock()
				c.rebuilds[name] = &consoleRebuild{running: true}
				c.mu.Unlock()
				close(started)
			})
		})
		done <- err
		select {
		case <-started:
		default:
			return
		}
		c.mu.Lock()
		c.rebuilds[name] = &consoleRebuild{err: err, ended: time.Now()}
		c.mu.Unlock()
		if err != nil {
			c.s.log.Error("projection rebuild failed", "projection", name, "err", err, "from", "console")
		}
	}()
	select {
	case <-started:
		return nil
	case err := <-done:
		if err != nil {
			return fmt.Errorf("rebuild projection %s: %w", name, err)
		}
		return nil
	}
}

// parseID reads a uuid route parameter, or answers 404.
func parseID(f *fiber.Ctx, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(f.Params("id"))
	if err != nil {
		return uuid.Nil, domain.NotFoundf("NOT_FOUND", "%s %q not found: not a uuid", what, f.Params("id"))
	}
	return id, nil
}

// head returns the log's head for the console's lag columns.
func (c *console) head(ctx context.Context) (eventstore.Position, error) {
	h, err := c.s.store.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the log's head: %w", err)
	}
	return h, nil
}
