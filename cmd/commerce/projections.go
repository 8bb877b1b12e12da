package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/commerce-dev/commerce/projections"
)

// projectionsCmd runs `commerce projections list` and `commerce projections rebuild NAME|--all`.
func projectionsCmd(ctx context.Context, cfg config, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: commerce projections list | rebuild NAME|--all")
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	switch args[0] {
	case "list":
		infos, err := a.runner.List(ctx)
		if err != nil {
			return fmt.Errorf("list projections: %w", err)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
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
	case "rebuild":
		if len(args) != 2 {
			return errors.New("usage: commerce projections rebuild NAME|--all")
		}
		start := time.Now()
		if args[1] == "--all" {
			// One read of the log feeds every projector's shadow tables side by side.
			if err := a.runner.RebuildAll(ctx, nil, projectionsProgress("all")); err != nil {
				return fmt.Errorf("rebuild all projections: %w", err)
			}
		} else if err := a.runner.Rebuild(ctx, args[1], projectionsProgress(args[1])); err != nil {
			return fmt.Errorf("rebuild %s: %w", args[1], err)
		}
		log.Info("projections rebuilt", "which", args[1], "took", time.Since(start).String())
		return nil
	default:
		return fmt.Errorf("unknown projections command %q: want list or rebuild", args[0])
	}
}

// projectionsProgress draws the rebuild's progress bar on stderr.
func projectionsProgress(name string) func(projections.Progress) {
	return projections.ProgressBar(os.Stderr, name)
}
