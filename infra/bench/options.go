package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scenarios, in the order the default run takes them.
const (
	// ScenarioSeed is the original system's test: 200 concurrent orders for two products with
	// little stock; exactly 15 succeed.
	ScenarioSeed = "seed"
	// ScenarioHot is one product with ample stock; every order takes 1 of it.
	ScenarioHot = "hot"
	// ScenarioUniform is 10,000 products; every order takes 1-3 random distinct products, 1-2 each.
	ScenarioUniform = "uniform"
	// ScenarioMixed is ScenarioUniform while other workers query the catalog and users' orders.
	ScenarioMixed = "mixed"
)

// Scenarios lists every scenario name in its default order.
var Scenarios = []string{ScenarioSeed, ScenarioHot, ScenarioUniform, ScenarioMixed}

// Options is what one `commerce bench` run measures.
type Options struct {
	// Scenarios to run, in this order.
	Scenarios []string
	// Workers are the worker counts each timed scenario runs with (seed always runs its 200
	// concurrent orders once).
	Workers []int
	// Duration is how long each path runs each timed scenario at each worker count.
	Duration time.Duration
	// JSONFile, when set, receives the report as JSON.
	JSONFile string
	// CPUProfile, when set, receives a CPU profile of the whole run (runtime/pprof format).
	CPUProfile string
	// RestockEvery, when set, has the hot product's seller restock it at this interval while the
	// hot scenario's orders run, through the path's own restock; the run then also checks that no
	// restock was refused and that each one is in the product's stock (VerifyRestocks).
	RestockEvery time.Duration
}

// DefaultOptions are the options of `commerce bench` without flags.
func DefaultOptions() Options {
	return Options{Scenarios: slices.Clone(Scenarios), Workers: []int{16, 64}, Duration: 15 * time.Second}
}

// MaxWorkers bounds --workers: every worker holds a database connection.
const MaxWorkers = 256

// ParseArgs reads the flags of `commerce bench`:
//
//	--scenario seed,hot,uniform,mixed  --workers 16,64  --duration 15s  --json FILE  --cpuprofile FILE
//	--restock-every 100ms
//
// Flag errors are returned, not printed; usage goes to out.
func ParseArgs(args []string, out io.Writer) (Options, error) {
	o := DefaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	scenarios := fs.String("scenario", strings.Join(o.Scenarios, ","), "comma-separated scenarios: "+strings.Join(Scenarios, ", "))
	workers := fs.String("workers", "16,64", "comma-separated worker counts")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long each path runs each timed scenario at each worker count")
	fs.StringVar(&o.JSONFile, "json", "", "also write the figures as JSON to this file")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof reads it)")
	fs.DurationVar(&o.RestockEvery, "restock-every", 0, "in the hot scenario, the seller restocks the product at this interval (0: never) and the run checks each restock landed")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	o.Scenarios = nil
	bad := 0
	for _, s := range splitList(*scenarios) {
		switch {
		case !slices.Contains(Scenarios, s):
			errs = append(errs, fmt.Errorf("--scenario: unknown scenario %q (want any of %s)", s, strings.Join(Scenarios, ", ")))
			bad++
		case !slices.Contains(o.Scenarios, s):
			o.Scenarios = append(o.Scenarios, s)
		}
	}
	if len(o.Scenarios) == 0 && bad == 0 {
		errs = append(errs, errors.New("--scenario: name at least one scenario"))
	}
	o.Workers = nil
	bad = 0
	for _, w := range splitList(*workers) {
		n, err := strconv.Atoi(w)
		switch {
		case err != nil || n < 1 || n > MaxWorkers:
			errs = append(errs, fmt.Errorf("--workers: %q is not a worker count from 1 to %d", w, MaxWorkers))
			bad++
		case !slices.Contains(o.Workers, n):
			o.Workers = append(o.Workers, n)
		}
	}
	if len(o.Workers) == 0 && bad == 0 {
		errs = append(errs, errors.New("--workers: give at least one worker count"))
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration: %s is not a positive duration", o.Duration))
	}
	if o.RestockEvery < 0 {
		errs = append(errs, fmt.Errorf("--restock-every: %s is not a duration of 0 or more", o.RestockEvery))
	}
	if err := errors.Join(errs...); err != nil {
		return Options{}, err
	}
	return o, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
