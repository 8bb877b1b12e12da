// Package pgserver starts a private PostgreSQL server for a test that must stop or restart its
// database, which the shared test server (DATABASE_URL) must never be. It uses the machine's
// PostgreSQL binaries (/usr/lib/postgresql/<version>/bin, the newest); as root, initdb and the
// server run as the postgres user. The server listens on a free port of 127.0.0.1, commits wait
// for the write-ahead log to be written (not for the disk: fsync is off), and is stopped and
// removed when the test ends.
package pgserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// Server is a running private PostgreSQL.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
}

// Start initialises a database cluster in a new directory, starts the server and registers its
// stop and removal with t.Cleanup. It fails the test when the binaries are missing.
func Start(t testing.TB) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(bins) == 0 {
		t.Fatal("no PostgreSQL binaries under /usr/lib/postgresql/*/bin: install the postgresql package")
	}
	slices.SortFunc(bins, func(a, b string) int { return version(a) - version(b) })
	dir, err := os.MkdirTemp("", "pgserver-")
	if err != nil {
		t.Fatalf("create the server's directory: %v", err)
	}
	s := &Server{t: t, bin: bins[len(bins)-1], dir: dir, port: freePort(t)}
	t.Cleanup(func() {
		_ = s.ctl("-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("look up the postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("give %s to postgres: %v", dir, err)
		}
	}
	if out, err := s.command("initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Start()
	return s
}

// URL is the server's postgres database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Stop shuts the server down fast: sessions are terminated, committed work is kept.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.ctl("-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		s.t.Fatalf("stop the PostgreSQL server: %v", err)
	}
}

// Start starts the stopped server again on the same port and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off -c full_page_writes=off", s.port, s.dir)
	if err := s.ctl("-l", filepath.Join(s.dir, "log"), "-w", "-t", "120", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("start the PostgreSQL server: %v\n%s", err, log)
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) ctl(args ...string) error {
	out, err := s.command("pg_ctl", append([]string{"-D", s.data()}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %w: %s", args, err, out)
	}
	return nil
}

// command runs a PostgreSQL binary, as the postgres user when this process is root.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// version is the major version in a /usr/lib/postgresql/<version>/bin path.
func version(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
