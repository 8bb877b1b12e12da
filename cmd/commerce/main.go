// Command commerce is the one binary of the shop backend: it serves the HTTP API and runs the
// background workers (projections, relay, order fulfilment), migrates the database, seeds the demo
// data, creates the first supervisor, rebuilds read models and benchmarks the order path.
//
// Usage:
//
//	commerce serve                          HTTP API and workers (ROLES picks which)
//	commerce migrate                        apply the embedded SQL migrations
//	commerce seed                           create the demo accounts and data (idempotent)
//	commerce admin create-supervisor        create a supervisor (password from stdin or an env var)
//	commerce projections list               each projector's position, lag and status
//	commerce projections rebuild NAME|--all rebuild read models from the log, without downtime
//	commerce bench [flags]                  order throughput, event-sourced vs a plain UPDATE
//	commerce healthcheck                    exit 0 when this process answers /readyz
//
// The commands are cobra commands; configuration comes from environment variables, parsed by
// caarlos0/env (`commerce serve --help` lists them). Log lines are JSON on stderr, durations in
// seconds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/commerce-dev/commerce/infra/telemetry"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run runs the command line args and returns the exit code. Every message it prints has the
// configuration's secrets masked.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cli := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := cli.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	msg := err.Error()
	if cli.mask != nil {
		msg = cli.mask.Replace(msg)
	}
	fmt.Fprintln(stderr, "commerce:", msg)
	return 1
}

// cli holds what the commands share: the streams, the environment, and once loaded the
// configuration, the logger and the masker of secrets.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	cfg  config
	log  *slog.Logger
	mask *strings.Replacer
}

// load reads the configuration and makes the logger: JSON on stderr, at LOG_LEVEL, durations as
// seconds and secrets masked.
func (c *cli) load(opts loadOptions) error {
	cfg, err := loadConfig(c.getenv, opts)
	if err != nil {
		return err
	}
	c.cfg = cfg
	c.mask = redactor(cfg.secrets())
	c.log = slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: c.replaceAttr}))
	slog.SetDefault(c.log)
	return nil
}

// replaceAttr writes every duration as seconds, so that log lines have one unit, and masks
// secrets in strings and errors.
func (c *cli) replaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		return slog.Float64(a.Key, a.Value.Duration().Seconds())
	case slog.KindString:
		return slog.String(a.Key, c.mask.Replace(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, c.mask.Replace(err.Error()))
		}
	}
	return a
}

// withConfig wraps a command that needs the whole configuration (and so DATABASE_URL).
func (c *cli) withConfig(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := c.load(loadOptions{}); err != nil {
			return err
		}
		return fn(cmd.Context(), args)
	}
}

func (c *cli) root() *cobra.Command {
	version, revision := telemetry.Version()
	root := &cobra.Command{
		Use:           "commerce",
		Short:         "The shop backend: HTTP API, workers and maintenance commands",
		Long:          "The shop backend: HTTP API, workers and maintenance commands.\n\nConfiguration comes from environment variables: 'commerce serve --help' lists them.",
		Version:       strings.TrimSpace(version + " " + revision),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	envHelp := func() string {
		var b strings.Builder
		printEnvHelp(&b)
		return b.String()
	}()

	serveCmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API and run the workers (ROLES picks which)",
		Long: "Serve the HTTP API and run the workers of this process's ROLES until SIGINT or SIGTERM, then drain.\n\n" +
			"Every process answers /healthz, /readyz and /metrics: on the API's listener with role api, else on METRICS_ADDR.\n\nEnvironment:\n" + envHelp,
		Args: cobra.NoArgs,
		RunE: c.withConfig(func(ctx context.Context, _ []string) error { return serve(ctx, c.cfg, c.log) }),
	}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations",
		Args:  cobra.NoArgs,
		RunE:  c.withConfig(func(ctx context.Context, _ []string) error { return migrateCmd(ctx, c.cfg, c.log) }),
	}
	seed := &cobra.Command{
		Use:   "seed",
		Short: "Create the demo accounts and data (idempotent; refused with ENV=production)",
		Args:  cobra.NoArgs,
		RunE:  c.withConfig(func(ctx context.Context, _ []string) error { return seedCmd(ctx, c.cfg, c.log) }),
	}
	health := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when this host's process answers /readyz (for container health checks)",
		Long: "Ask http://127.0.0.1:PORT/readyz, PORT being that of METRICS_ADDR when set, else of HTTP_ADDR with role api, else 9090.\n" +
			"It needs no database: only HTTP_ADDR, METRICS_ADDR and ROLES are read.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.load(loadOptions{probe: true}); err != nil {
				return err
			}
			return healthcheck(cmd.Context(), c.cfg)
		},
	}
	bench := &cobra.Command{
		Use:                "bench [--scenario LIST] [--workers LIST] [--duration D] [--json FILE] [--cpuprofile FILE]",
		Short:              "Measure order throughput against a plain-UPDATE baseline ('commerce bench -h' lists its flags)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" || a == "-help" {
					return benchHelp(args, c.stdout)
				}
			}
			return c.withConfig(func(ctx context.Context, args []string) error { return benchCmd(ctx, c.cfg, c.log, args) })(cmd, args)
		},
	}
	root.AddCommand(serveCmd, migrate, seed, c.projectionsCmd(), c.adminCmd(), bench, health)
	return root
}

// groupRunE makes a command that only groups others refuse what is not one of them, instead of
// printing its help and exiting 0.
func groupRunE(cmd *cobra.Command, args []string) error {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	if len(args) == 0 {
		return fmt.Errorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
	}
	return fmt.Errorf("unknown command %q for %q: want %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
}
