package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (golang.org/x/time/rate), the buckets kept in an LRU of
// bounded size: clients that keep coming keep their bucket, and any number of addresses cannot
// grow memory past the bound (an evicted bucket was the least recently used, so likely full).
type limiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets *lru.Cache[string, *rate.Limiter]
}

func newLimiter(limit rate.Limit, burst, keys int) *limiter {
	buckets, err := lru.New[string, *rate.Limiter](keys)
	if err != nil {
		panic("httpapi: rate limiter: " + err.Error()) // keys <= 0: withDefaults prevents it
	}
	return &limiter{limit: limit, burst: burst, buckets: buckets}
}

// allow takes a token from key's bucket, or says how long until one is there.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	b, ok := l.buckets.Get(key)
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets.Add(key, b)
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return false, wait
	}
	return true, 0
}

// tooManyRequests is the 429 after which the client may try again in wait.
func tooManyRequests(description string, wait time.Duration) *ErrorEnvelope {
	e := errorEnvelope(http.StatusTooManyRequests, http.StatusTooManyRequests, description)
	e.headers = http.Header{"Retry-After": {retryAfter(wait.Seconds())}}
	return e
}

// rateLimited makes o answer 429 with Retry-After once a client exceeds the rate (per client
// address, or per IPv6 /64, and operation). The routes it guards hash passwords, so they also
// document 503 (every hashing slot busy).
func (s *Server) rateLimited(o huma.Operation) huma.Operation {
	o.Errors = append(o.Errors, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	o.Middlewares = append(o.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		key := ctx.Operation().OperationID + " " + clientKey(s.client(humafiber.Unwrap(ctx)))
		if allowed, wait := s.limit.allow(key, time.Now()); !allowed {
			s.writeError(ctx, tooManyRequests("too many requests from this address; retry later", wait))
			return
		}
		next(ctx)
	})
	return o
}

// client is the request's client address: the peer, or behind trusted proxies the right-most
// address of the proxy header that is not a trusted proxy (every address right of it was added
// by a proxy we trust; anything left of it is what the client claims). With no trusted proxies
// the header is ignored, so a client cannot pick its rate-limit bucket.
func (s *Server) client(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	values := c.Request().Header.PeekAll(s.cfg.ProxyHeader)
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(string(values[i]), ",")
		for j := len(hops) - 1; j >= 0; j-- {
			addr, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return client // a trusted proxy passed on garbage: the last address we can vouch for
			}
			client = addr.Unmap()
			if !s.trusted(client) {
				return client
			}
		}
	}
	return client
}

func (s *Server) trusted(addr netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientKey is the rate-limit bucket of addr: the address for IPv4, its /64 for IPv6 (one
// subscriber usually holds a whole /64, so per-address buckets would be free to multiply).
func clientKey(addr netip.Addr) string {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// ParseTrustedProxies parses a list of proxy addresses and CIDRs (10.0.0.1, 10.0.0.0/8,
// fd00::/8) for Config.TrustedProxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, item := range list {
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
