// Package faultproxy is a TCP proxy for tests that puts database faults between a process and its
// PostgreSQL: added latency, a silent partition (bytes and closes held, nothing refused, as when
// packets are dropped), connection resets and refused connections. Faults apply to connections
// already open and to new ones, and end when they are switched off.
package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards connections from Addr to a target address, with the faults that are on.
type Proxy struct {
	target string
	addr   string

	mu          sync.Mutex
	ln          net.Listener
	conns       map[net.Conn]struct{}
	latency     time.Duration
	partitioned bool
	healed      chan struct{} // closed when a partition ends
	closed      bool
	wg          sync.WaitGroup
	running     atomic.Int64
}

// Start listens on a free port of 127.0.0.1 and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the fault proxy: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}, healed: make(chan struct{})}
	close(p.healed)
	p.serve(ln)
	return p, nil
}

// Goroutines is how many goroutines the proxy runs now, for tests that count the rest.
func (p *Proxy) Goroutines() int { return int(p.running.Load()) }

// goroutine runs f on a goroutine that Close waits for and Goroutines counts.
func (p *Proxy) goroutine(f func()) {
	p.running.Add(1)
	p.wg.Go(func() {
		defer p.running.Add(-1)
		f()
	})
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.addr }

// URL returns the PostgreSQL URL u with its host and port replaced by the proxy's.
func (p *Proxy) URL(u string) string {
	at := strings.Index(u, "@")
	rest := u[at+1:]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	return u[:at+1] + p.addr + rest[end:]
}

// SetLatency delays every chunk of bytes, in both directions, by d (0: none).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Partition starts (on) or ends a silent partition: nothing is forwarded and nothing closed until
// it ends, then what was held goes through. New connections are accepted and hang.
func (p *Proxy) Partition(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && !p.partitioned:
		p.partitioned = true
		p.healed = make(chan struct{})
	case !on && p.partitioned:
		p.partitioned = false
		close(p.healed)
	}
}

// Reset cuts every open connection with a TCP reset on both sides.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// Refuse stops listening (on), so that new connections are refused, or listens again on the same
// address.
func (p *Proxy) Refuse(on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("fault proxy closed")
	}
	switch {
	case on && p.ln != nil:
		err := p.ln.Close()
		p.ln = nil
		return err
	case !on && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("listen again on %s: %w", p.addr, err)
		}
		p.ln = ln
		p.serve(ln)
	}
	return nil
}

// Close stops listening, cuts every connection and waits for the proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	if p.partitioned {
		p.partitioned = false
		close(p.healed)
	}
	p.mu.Unlock()
	p.Reset()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.goroutine(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.goroutine(func() { p.forward(c) })
		}
	})
}

// track adds c to the open connections, or closes it if the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	_ = c.Close()
}

func (p *Proxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	for _, ends := range [][2]net.Conn{{client, server}, {server, client}} {
		p.goroutine(func() {
			p.pump(ends[0], ends[1])
			done <- struct{}{}
		})
	}
	<-done
	<-done
}

// chunk is bytes read from one side at a time; nil data is the end of the side's stream.
type chunk struct {
	data []byte
	at   time.Time
}

// pump copies src to dst through a delay line that honours latency and partitions; when either
// side ends, both are closed (after what was held has gone through).
func (p *Proxy) pump(src, dst net.Conn) {
	line := make(chan chunk, 256)
	p.goroutine(func() {
		defer close(line)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				line <- chunk{data: buf[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	})
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		for range line { // let the reader finish
		}
	}()
	for c := range line {
		if !p.pass(c.at) {
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
	p.pass(time.Now()) // a close is held by a partition like bytes are
}

// pass waits until a chunk read at at may go: the latency has passed and no partition is on. It
// is false when the proxy closed meanwhile.
func (p *Proxy) pass(at time.Time) bool {
	for {
		p.mu.Lock()
		latency, healed, closed := p.latency, p.healed, p.closed
		p.mu.Unlock()
		if closed {
			return false
		}
		select {
		case <-healed:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		if wait := time.Until(at.Add(latency)); wait > 0 {
			time.Sleep(min(wait, 50*time.Millisecond))
			continue
		}
		return true
	}
}
