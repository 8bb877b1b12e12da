package leader

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

var testLock = Lock{Class: 0x7465, Key: 1}

// leading runs Lead in the background and reports when run starts and what Lead returned.
type leading struct {
	started chan time.Time
	waiting chan struct{}
	done    chan error
	cancel  context.CancelFunc
}

func lead(t *testing.T, cfg *pgx.ConnConfig) *leading {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &leading{started: make(chan time.Time, 1), waiting: make(chan struct{}), done: make(chan error, 1), cancel: cancel}
	waiting := sync.OnceFunc(func() { close(l.waiting) })
	go func() {
		l.done <- Lead(ctx, cfg, testLock, Options{Check: 200 * time.Millisecond, Waiting: waiting},
			func(ctx context.Context, _ *Session) error {
				l.started <- time.Now()
				<-ctx.Done()
				return ctx.Err()
			})
	}()
	t.Cleanup(func() {
		cancel()
		<-l.done
	})
	return l
}

func (l *leading) wait(t *testing.T, what string) time.Time {
	t.Helper()
	select {
	case at := <-l.started:
		return at
	case err := <-l.done:
		t.Fatalf("%s: Lead returned %v before leading", what, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not leading within 10 s", what)
	}
	return time.Time{}
}

// holderPID returns the backend holding testLock.
func holderPID(t *testing.T, pool *pgxpool.Pool) int32 {
	t.Helper()
	var pid int32
	err := pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory'
		AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		testLock.Class, testLock.Key).Scan(&pid)
	if err != nil {
		t.Fatalf("find the lock's holder: %v", err)
	}
	return pid
}

// TestFailOver ends the holder's session on the server, as the server does when the holder's
// host vanished and the keepalives gave up, and measures how long the standby takes to lead and
// the holder to stop.
func TestFailOver(t *testing.T) {
	pool := pgtest.New(t)
	cfg := pool.Config().ConnConfig
	a := lead(t, cfg)
	a.wait(t, "first instance")
	b := lead(t, cfg)
	select {
	case <-b.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("second instance did not start waiting for the lock within 10 s")
	}
	if _, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, holderPID(t, pool)); err != nil {
		t.Fatalf("terminate the holder's session: %v", err)
	}
	ended := time.Now()
	took := b.wait(t, "standby").Sub(ended)
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		if !errors.Is(err, ErrLost) {
			t.Errorf("holder's Lead after its session ended = %v, want ErrLost", err)
		}
		t.Logf("fail-over: standby led %s after the holder's session ended; holder stopped after %s", took, time.Since(ended))
	case <-time.After(2 * time.Second):
		t.Fatal("holder still leading 2 s after its session ended")
	}
	if took > time.Second {
		t.Errorf("standby led %s after the lock was freed, want under 1 s", took)
	}
}

// TestKeepaliveSettings checks that the lock's session on the server probes its client, which is
// what frees the lock of a vanished holder within seconds.
func TestKeepaliveSettings(t *testing.T) {
	pool := pgtest.New(t)
	err := Lead(context.Background(), pool.Config().ConnConfig, testLock, Options{}, func(ctx context.Context, s *Session) error {
		return s.Do(ctx, time.Second, func(ctx context.Context, c *pgx.Conn) error {
			var idle, interval, count string
			if err := c.QueryRow(ctx, `SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
				current_setting('tcp_keepalives_count')`).Scan(&idle, &interval, &count); err != nil {
				return err
			}
			if c.PgConn().Conn().RemoteAddr().Network() == "tcp" && (idle != "2" || interval != "1" || count != "3") {
				t.Errorf("lock session keepalives idle=%s interval=%s count=%s, want 2, 1, 3", idle, interval, count)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Lead = %v", err)
	}
}

// TestHolderStopsWhenItsConnectionFreezes puts a proxy that stops forwarding between the holder
// and the server (a silent partition): the holder must stop leading within a few Checks, before
// the server's keepalives could free the lock for another instance.
func TestHolderStopsWhenItsConnectionFreezes(t *testing.T) {
	pool := pgtest.New(t)
	cfg := pool.Config().ConnConfig.Copy()
	p := newFreezer(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	cfg.Host, cfg.Port = "127.0.0.1", p.port()
	a := lead(t, cfg)
	a.wait(t, "holder")
	p.frozen.Store(true)
	frozen := time.Now()
	select {
	case err := <-a.done:
		a.done <- err
		if !errors.Is(err, ErrLost) {
			t.Errorf("holder's Lead after a freeze = %v, want ErrLost", err)
		}
		took := time.Since(frozen)
		t.Logf("holder stopped leading %s after its connection froze", took)
		if took > KeepaliveTimeout {
			t.Errorf("holder stopped %s after the freeze, want before the server frees the lock (%s)", took, KeepaliveTimeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("holder still leading 10 s after its connection froze")
	}
}

// freezer forwards TCP connections to target until frozen, then holds everything it reads.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &freezer{ln: ln}
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, s)
			mu.Unlock()
			conns.Add(2)
			go func() { defer conns.Done(); f.copy(s, c) }()
			go func() { defer conns.Done(); f.copy(c, s) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepting // no conns.Add after the Wait below
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	return f
}

func (f *freezer) port() uint16 { return uint16(f.ln.Addr().(*net.TCPAddr).Port) }

// copy forwards src to dst until either closes, dropping what it reads while frozen.
func (f *freezer) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !f.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}
