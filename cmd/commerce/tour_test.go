package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestReadmeTourRunsAgainAndAgain runs the README's tour (its bash block, as a reader would paste
// it) three times against a served, seeded process: every run places an order that is ORDER,
// the user's orders show it first and the seller's lines show its line. It needs bash, curl and
// jq, the prerequisites the README states.
func TestReadmeTourRunsAgainAndAgain(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the tour needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## A one-minute tour")
	_, rest, ok2 := strings.Cut(rest, "```bash\n")
	script, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no bash block under \"## A one-minute tour\"")
	}

	cfg := testConfig(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	if err := seedCmd(ctx, cfg, log); err != nil {
		t.Fatalf("seed: %v", err)
	}
	startServe(t, cfg, log)
	waitReady(t, "http://"+cfg.HTTPAddr+"/readyz", 30*time.Second)
	script = strings.Replace(script, "API=http://localhost:8080/api/v1", "API=http://"+cfg.HTTPAddr+"/api/v1", 1)

	for run := 1; run <= 3; run++ {
		out, err := exec.Command("bash", "-euo", "pipefail", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("tour run %d: %v\n%s", run, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 4 {
			t.Fatalf("tour run %d printed %d lines, want 4 (restock, order, user's orders, seller's lines):\n%s", run, len(lines), out)
		}
		var placed, mine struct{ ID, Status string }
		var line struct {
			OrderID string `json:"order_id"`
			Status  string
		}
		for i, v := range []any{&placed, &mine, &line} {
			if err := json.Unmarshal([]byte(lines[i+1]), v); err != nil {
				t.Fatalf("tour run %d line %d %q: %v", run, i+2, lines[i+1], err)
			}
		}
		if placed.Status != "ORDER" || mine.ID != placed.ID || line.OrderID != placed.ID || line.Status != "ORDER" {
			t.Fatalf("tour run %d: placed %+v, user's first order %+v, seller's line %+v; want ORDER, first in the user's orders, its line ORDER", run, placed, mine, line)
		}
	}
}
