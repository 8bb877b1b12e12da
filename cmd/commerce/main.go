// Command commerce is the one binary of the shop backend: it serves the HTTP API and runs the
// background workers (projections, relay, order fulfilment), migrates the database, seeds the demo
// data, rebuilds read models and benchmarks the order path.
//
// Usage:
//
//	commerce serve                          HTTP API and workers (ROLES picks which)
//	commerce migrate                        apply the embedded SQL migrations
//	commerce seed                           create the demo accounts and data (idempotent)
//	commerce projections list               each projector's position, lag and status
//	commerce projections rebuild NAME|--all rebuild read models from the log, without downtime
//	commerce bench [flags]                  order throughput, event-sourced vs a plain UPDATE
//
// Configuration comes from environment variables: `commerce serve --help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/commerce-dev/commerce/infra/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "commerce:", err)
		os.Exit(1)
	}
}

const usage = `usage: commerce <command> [arguments]

commands:
  serve                            serve the HTTP API and run the workers
  migrate                          apply the database migrations
  seed                             create the demo accounts and data (idempotent)
  projections list                 show each projector's position, lag and status
  projections rebuild NAME|--all   rebuild read models from the event log without downtime
  bench [flags]                    measure order throughput against a plain-UPDATE baseline
  healthcheck                      exit 0 when this host's server answers /readyz (for containers)

Run 'commerce serve --help' for the environment variables.
`

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	for _, a := range rest {
		if a != "-h" && a != "--help" && a != "-help" {
			continue
		}
		if cmd == "bench" { // bench has flags of its own and prints them
			_, err := bench.ParseArgs(rest, os.Stdout)
			return err
		}
		fmt.Fprint(os.Stdout, usage)
		fmt.Fprintln(os.Stdout, "\nenvironment:")
		printEnvHelp(os.Stdout)
		return flag.ErrHelp
	}
	if cmd == "-h" || cmd == "--help" || cmd == "help" {
		fmt.Fprint(os.Stdout, usage)
		return flag.ErrHelp
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrateCmd(ctx, cfg, log)
	case "seed":
		return seedCmd(ctx, cfg, log)
	case "projections":
		return projectionsCmd(ctx, cfg, log, rest)
	case "bench":
		return benchCmd(ctx, cfg, log, rest)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
