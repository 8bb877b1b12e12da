package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/commerce-dev/commerce/infra/bench"
	"github.com/commerce-dev/commerce/infra/postgres"
)

// benchHelp prints bench's flags (bench.ParseArgs does, on -h) and returns flag.ErrHelp.
func benchHelp(args []string, out io.Writer) error {
	_, err := bench.ParseArgs(args, out)
	return err
}

// benchCmd measures order throughput of the event-sourced path against a plain one-transaction
// baseline in a fresh database (bench_<random>) on DATABASE_URL's server, dropped afterwards. It
// prints a markdown table, writes JSON with --json, and fails when a run's stock does not add up.
func benchCmd(ctx context.Context, cfg config, log *slog.Logger, args []string) error {
	opts, err := bench.ParseArgs(args, os.Stderr)
	if err != nil {
		return err
	}
	db, err := bench.CreateDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	log.Info("bench database created", "database", db.Name)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			log.Error("bench database not dropped", "database", db.Name, "err", err)
		}
	}()

	// Each path gets a pool of its own, sized as the server sizes its one (pool_max_conns in
	// DATABASE_URL, else postgres.DefaultMaxConns): the same connections for both.
	esPool, err := postgres.Connect(ctx, db.URL)
	if err != nil {
		return err
	}
	defer esPool.Close()
	basePool, err := postgres.Connect(ctx, db.URL)
	if err != nil {
		return err
	}
	defer basePool.Close()
	if err := postgres.Migrate(ctx, esPool, nil); err != nil {
		return err
	}
	machine, err := bench.ReadMachine(ctx, basePool)
	if err != nil {
		return err
	}
	machine.PoolConns = int(basePool.Config().MaxConns)
	if !machine.Durable() {
		log.Warn("bench: the server does not wait for the disk at commit; figures are not comparable with durable ones",
			"fsync", machine.Settings["fsync"], "synchronous_commit", machine.Settings["synchronous_commit"])
	}

	es, err := bench.NewEventSourced(ctx, esPool, bench.EventSourcedConfig{SnapshotEvery: int64(cfg.SnapshotEvery), Logger: log})
	if err != nil {
		return err
	}
	defer es.Close()
	base, err := bench.NewBaseline(ctx, basePool)
	if err != nil {
		return err
	}
	if opts.CPUProfile != "" {
		f, err := os.Create(opts.CPUProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	r := &bench.Runner{
		Paths:     []bench.Path{es, base},
		Options:   opts,
		Machine:   machine,
		Log:       log,
		BeforeRun: bench.Checkpoint(basePool, log),
		CPU:       func(ctx context.Context) bench.CPUSample { return bench.SampleCPU(ctx, basePool) },
	}
	rep, runErr := r.Run(ctx)
	if len(rep.Results) > 0 {
		if err := rep.WriteMarkdown(os.Stdout); err != nil {
			return fmt.Errorf("print report: %w", err)
		}
		if opts.JSONFile != "" {
			if err := rep.WriteJSONFile(opts.JSONFile); err != nil {
				return err
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	if err := es.Err(); err != nil {
		return fmt.Errorf("event-sourced workers: %w", err)
	}
	if failed := rep.Failed(); len(failed) > 0 {
		var errs []error
		for _, f := range failed {
			errs = append(errs, fmt.Errorf("%s, %s, %d workers: %d errors, verified %t: %s", f.Scenario, f.Path, f.Workers, f.Errors, f.Verified, f.Problem))
		}
		return fmt.Errorf("bench: %d runs failed:\n%w", len(failed), errors.Join(errs...))
	}
	return nil
}
