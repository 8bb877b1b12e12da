package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/commerce-dev/commerce/projections"
)

// TestRebuildProgressIsLogLinesOffTerminal: with stderr not a terminal, a rebuild's progress is
// a JSON log line every progressEvery and one at the swap, with no carriage return.
func TestRebuildProgressIsLogLinesOffTerminal(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stderr: &out, mask: redactor(nil)}
	c.log = slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: c.replaceAttr}))
	now := time.Unix(0, 0)
	report := progressLog(c.log, "orders", func() time.Time { return now })
	for i := range 12 { // one report a second for 12 s: lines at 0 s, 5 s and 10 s
		report(projections.Progress{Done: int64(i), Total: 100, Elapsed: time.Duration(i) * time.Second})
		now = now.Add(time.Second)
	}
	report(projections.Progress{Done: 100, Total: 100, Swapped: true})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || strings.Contains(out.String(), "\r") || !strings.Contains(lines[3], `"swapped":true`) {
		t.Fatalf("progress output:\n%s\nwant 4 JSON lines without carriage returns, the last one swapped", out.String())
	}
	if !strings.Contains(lines[1], `"elapsed":5,`) {
		t.Fatalf("second progress line %s, want elapsed 5 (seconds)", lines[1])
	}
}
