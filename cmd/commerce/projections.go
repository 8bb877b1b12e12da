package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/commerce-dev/commerce/projections"
)

// projectionsCmd is `commerce projections list` and `commerce projections rebuild NAME|--all`.
func (c *cli) projectionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "List the read-model projections or rebuild them from the event log",
		RunE:  groupRunE,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "Show each projector's position, lag, standbys and status",
		Args:  cobra.NoArgs,
		RunE: c.withConfig(func(ctx context.Context, _ []string) error {
			a, err := openApp(ctx, c.cfg, c.log)
			if err != nil {
				return err
			}
			defer a.close()
			return listProjections(ctx, a.runner, c.stdout)
		}),
	}
	var all bool
	rebuild := &cobra.Command{
		Use:   "rebuild NAME | --all",
		Short: "Rebuild a projector's read model (or all of them) from the log, without downtime",
		Long: "Replay the log into shadow tables while the live ones keep serving, then swap them in.\n" +
			"Progress is a bar when stderr is a terminal, else a log line every few seconds.",
		Args: func(_ *cobra.Command, args []string) error {
			if all != (len(args) == 0) || len(args) > 1 {
				return errors.New("name one projector, or give --all")
			}
			return nil
		},
		RunE: c.withConfig(func(ctx context.Context, args []string) error {
			a, err := openApp(ctx, c.cfg, c.log)
			if err != nil {
				return err
			}
			defer a.close()
			start := time.Now()
			which := "all"
			if all {
				// One read of the log feeds every projector's shadow tables side by side.
				if err := a.runner.RebuildAll(ctx, nil, c.progress("all")); err != nil {
					return fmt.Errorf("rebuild all projections: %w", err)
				}
			} else {
				which = args[0]
				if err := a.runner.Rebuild(ctx, which, c.progress(which)); err != nil {
					return fmt.Errorf("rebuild %s: %w", which, err)
				}
			}
			c.log.Info("projections rebuilt", "which", which, "took", time.Since(start))
			return nil
		}),
	}
	rebuild.Flags().BoolVar(&all, "all", false, "rebuild every projector in one read of the log")
	cmd.AddCommand(list, rebuild)
	return cmd
}

// listProjections prints the runner's projectors as a table.
func listProjections(ctx context.Context, runner *projections.Runner, out io.Writer) error {
	infos, err := runner.List(ctx)
	if err != nil {
		return fmt.Errorf("list projections: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPOSITION\tLAG (EVENTS)\tSTANDBYS\tUPDATED\tERROR")
	for _, i := range infos {
		updated := "-"
		if !i.UpdatedAt.IsZero() {
			updated = i.UpdatedAt.UTC().Format(time.RFC3339)
		}
		lag := "?"
		if i.LagEvents >= 0 {
			lag = fmt.Sprint(i.LagEvents)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", i.Name, i.State, i.Position, lag, i.Standbys, updated, i.Error)
	}
	return tw.Flush()
}

// progress reports a rebuild's progress: a bar when stderr is a terminal, else a log line at most
// every progressEvery and one at the end, so that logs collected from a pipe have no carriage
// returns.
func (c *cli) progress(name string) func(projections.Progress) {
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return projections.ProgressBar(f, name)
	}
	return progressLog(c.log, name, time.Now)
}

// progressEvery is how often a rebuild's progress is logged when stderr is not a terminal.
const progressEvery = 5 * time.Second

func progressLog(log *slog.Logger, name string, now func() time.Time) func(projections.Progress) {
	var last time.Time
	return func(p projections.Progress) {
		if !p.Swapped && now().Sub(last) < progressEvery {
			return
		}
		last = now()
		log.Info("rebuild progress", "projector", name, "done", p.Done, "total", p.Total,
			"elapsed", p.Elapsed, "events_per_second", int64(p.Rate), "eta", p.ETA, "swapped", p.Swapped)
	}
}
