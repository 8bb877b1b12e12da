package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTicks = 100

// CPUSample is the CPU time used so far by this process and by the database server's processes.
type CPUSample struct {
	App time.Duration
	// DBKnown is false when the server is not on this machine (its processes are not in /proc)
	// or cannot be listed.
	DBKnown bool
	// db is the CPU time of each server process listed, in clock ticks.
	db map[process]int64
}

// process is one process: its pid and its start time, which tell a reused pid apart.
type process struct {
	pid   int
	start int64
}

// DBSince returns the CPU time the server's processes used between before and s: the growth of
// every process in both samples and the whole time of those started since. A process that exited
// in between is not in s, and its share is not counted, so this is a lower bound (summing the
// totals instead would count an exited process's whole life against the run).
func (s CPUSample) DBSince(before CPUSample) time.Duration {
	var ticks int64
	for p, t := range s.db {
		ticks += t - before.db[p]
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// SampleCPU reads the CPU time of this process and, when it runs on this machine, of the database
// server behind pool: its backends connected to pool's database (the bench's pools stay open
// through a run) and its background processes (WAL writer, checkpointer, autovacuum). CPU of
// backends that exit during a run is not counted, so the figure for the server is a lower bound.
func SampleCPU(ctx context.Context, pool *pgxpool.Pool) CPUSample {
	var s CPUSample
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.App = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR backend_type <> 'client backend'`)
	if err != nil {
		return s
	}
	defer rows.Close()
	db := make(map[process]int64)
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return s
		}
		start, t, err := processTicks(pid)
		if err != nil {
			continue // ended since the query, or not on this machine
		}
		db[process{pid: pid, start: start}] = t
	}
	if rows.Err() != nil || len(db) == 0 {
		return s
	}
	s.db, s.DBKnown = db, true
	return s
}

// processTicks returns the start time and utime + stime of process pid from /proc, in clock
// ticks.
func processTicks(pid int) (start, cpu int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: fields count from after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	start, err3 := strconv.ParseInt(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q starttime %q", pid, f[11], f[12], f[19])
	}
	return start, utime + stime, nil
}

// perOrder sets res's CPU figures from the samples taken before and after its run.
func (res *Result) perOrder(before, after CPUSample) {
	if res.Settled == 0 {
		return
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(res.Settled) }
	res.AppCPUMsPerOrder = ms(after.App - before.App)
	if before.DBKnown && after.DBKnown {
		res.DBCPUMsPerOrder = ms(after.DBSince(before))
	}
}
