// Package leader elects the one instance of a single-writer worker (a projector, the relay) among
// processes that share a database: the holder of a Postgres session advisory lock leads, the others
// wait for the lock and take over when the holder's session ends.
//
// The lock lives on a connection of its own, outside any pool, with TCP keepalives on both ends:
// when the holder's host vanishes (power loss, a partition) the server notices within
// KeepaliveTimeout and frees the lock, instead of after the operating system's default of about two
// hours; and the holder pings its connection every Options.Check and stops leading when a ping
// fails or goes unanswered for PingTimeout, before the server can have handed the lock to another
// instance.
package leader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Keepalive settings of every connection that holds a session for long (an advisory lock, a
// LISTEN): probe after keepaliveIdle of silence, every keepaliveInterval, and give up after
// keepaliveCount unanswered probes; unacknowledged data gives up after KeepaliveTimeout too.
const (
	keepaliveIdle     = 2 * time.Second
	keepaliveInterval = time.Second
	keepaliveCount    = 3
	// KeepaliveTimeout is about how long after a peer vanished its side of a connection with
	// these settings is closed, and a lock it held is free.
	KeepaliveTimeout = keepaliveIdle + keepaliveCount*keepaliveInterval
)

// Keepalive returns a copy of cfg whose connections detect a vanished peer within
// KeepaliveTimeout: the server probes the client (tcp_keepalives_*, tcp_user_timeout) and the
// client probes the server.
func Keepalive(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(int(keepaliveIdle / time.Second))
	c.RuntimeParams["tcp_keepalives_interval"] = strconv.Itoa(int(keepaliveInterval / time.Second))
	c.RuntimeParams["tcp_keepalives_count"] = strconv.Itoa(keepaliveCount)
	c.RuntimeParams["tcp_user_timeout"] = strconv.Itoa(int(KeepaliveTimeout / time.Millisecond))
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: keepaliveIdle, Interval: keepaliveInterval, Count: keepaliveCount,
	}}
	c.DialFunc = d.DialContext
	return c
}

// Lock names an advisory lock by its two keys, as pg_advisory_lock(int, int) takes them: Class
// keeps one kind of worker's locks apart from another's, Key is the worker's name hashed.
type Lock struct {
	Class, Key int32
}

// Options tune Lead. Zero fields take the defaults named on each.
type Options struct {
	// Check is how often the leader pings its lock connection. Default 1 s; keep it under
	// KeepaliveTimeout - PingTimeout, so that a leader whose connection went silent stops
	// before the server can free its lock for another instance.
	Check time.Duration
	// Waiting, when set, is called when another session holds the lock and Lead starts waiting.
	Waiting func()
}

// PingTimeout is how long the leader waits for its connection to answer a ping before it stops
// leading: long enough that a busy server does not depose it, short enough that it stops well
// before the server's keepalives free the lock.
const PingTimeout = KeepaliveTimeout / 2

// ErrLost is the cause of the context given to Lead's run when the lock connection stopped
// answering: another instance may hold the lock by now.
var ErrLost = errors.New("advisory lock connection lost")

// Session is the connection that holds the lock, for statements that must run only while this
// instance leads (a checkpoint written on it fails once the lock is lost).
type Session struct {
	mu   sync.Mutex
	conn *pgx.Conn
}

// Do runs f on the lock connection, one caller at a time, bounded by timeout and not cancelled
// by ctx: a statement cancelled half-way closes the connection, and with it the lock.
func (s *Session) Do(ctx context.Context, timeout time.Duration, f func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(ctx, s.conn)
}

// Lead opens a connection with cfg (with Keepalive's settings), waits for lock, and calls run
// while it holds it. run's context ends when ctx ends or the connection stops answering (its
// cause is then ErrLost). Lead returns that ErrLost when the lock was lost, else run's error, or
// the error of connecting or locking; it closes the connection, freeing the lock, before it
// returns.
func Lead(ctx context.Context, cfg *pgx.ConnConfig, lock Lock, opts Options, run func(context.Context, *Session) error) error {
	check := opts.Check
	if check <= 0 {
		check = time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, Keepalive(cfg))
	if err != nil {
		return fmt.Errorf("connect for advisory lock %d/%d: %w", lock.Class, lock.Key, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx) // closing frees the lock; a connection already gone has freed it
	}()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lock.Class, lock.Key).Scan(&got); err != nil {
		return fmt.Errorf("take advisory lock %d/%d: %w", lock.Class, lock.Key, err)
	}
	if !got {
		if opts.Waiting != nil {
			opts.Waiting()
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lock.Class, lock.Key); err != nil {
			return fmt.Errorf("wait for advisory lock %d/%d: %w", lock.Class, lock.Key, err)
		}
	}

	s := &Session{conn: conn}
	lctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	wg.Go(func() {
		t := time.NewTicker(check)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			err := s.Do(lctx, PingTimeout, func(ctx context.Context, c *pgx.Conn) error { return c.Ping(ctx) })
			if err != nil && lctx.Err() == nil {
				cancel(fmt.Errorf("%w: %w", ErrLost, err))
				return
			}
		}
	})
	err = run(lctx, s)
	if cause := context.Cause(lctx); ctx.Err() == nil && errors.Is(cause, ErrLost) {
		return cause
	}
	return err
}
