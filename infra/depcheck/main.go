// Command depcheck fails when a package imports against the dependency direction (README):
// the domain in the centre, adapters outside it, and cmd/commerce the only place that wires
// adapters. It runs `go list` over the module and checks every non-test import of every package.
//
// Usage: go run ./infra/depcheck
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

type pkg struct {
	ImportPath string
	Imports    []string
}

// rule says which imports a package under prefix may have: module-internal prefixes and external
// prefixes. The first rule whose prefix matches a package applies.
type rule struct {
	prefix   string
	internal []string // allowed module-internal packages (relative to the module); "x/..." is x and below
	external []string // allowed external prefixes; "std" is the standard library, "*" anything, "=p" p alone
}

// otelAPI is the OpenTelemetry API (not the SDK): the core may make spans, whose recording the
// process chooses in cmd by installing an SDK, or not.
var otelAPI = []string{"=go.opentelemetry.io/otel", "go.opentelemetry.io/otel/trace", "go.opentelemetry.io/otel/attribute", "go.opentelemetry.io/otel/codes", "go.opentelemetry.io/otel/propagation"}

var rules = []rule{
	{"domain", []string{"domain/..."}, []string{"std", "github.com/google/uuid", "github.com/go-json-experiment/json"}},
	{"infra/eventstore/eventstoretest", []string{"infra/eventstore", "infra/postgres/..."}, []string{"*"}},
	{"infra/eventstore/", []string{"infra/eventstore", "infra/postgres/..."}, []string{"*"}},
	{"infra/eventstore", nil, []string{"std", "github.com/google/uuid"}},
	{"commands", []string{"commands/...", "domain/...", "infra/eventstore"}, append([]string{"std", "github.com/google/uuid", "github.com/cenkalti/backoff/v5"}, otelAPI...)},
	{"projections", []string{"projections/...", "domain/...", "infra/eventstore", "infra/postgres/leader"}, append([]string{"std", "github.com/google/uuid", "github.com/jackc/pgx/v5", "github.com/schollz/progressbar/v3", "github.com/cenkalti/backoff/v5"}, otelAPI...)},
	{"readmodels", []string{"readmodels/...", "domain/..."}, []string{"std", "github.com/google/uuid", "github.com/jackc/pgx/v5"}},
	{"httpapi", []string{"httpapi/...", "commands/...", "readmodels/...", "domain/...", "infra/auth/...", "infra/eventstore"}, []string{"*"}},
	{"infra", []string{"*"}, []string{"*"}},
	{"cmd", []string{"*"}, []string{"*"}},
}

func main() {
	module, err := goList("-m")
	if err != nil {
		fail(err)
	}
	mod := strings.TrimSpace(string(module))
	out, err := goList("-json", "./...")
	if err != nil {
		fail(err)
	}
	std, err := goList("std")
	if err != nil {
		fail(err)
	}
	stdlib := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(std))
	for sc.Scan() {
		stdlib[sc.Text()] = true
	}

	var problems []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			fail(fmt.Errorf("decode go list output: %w", err))
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		r, ok := ruleFor(rel)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no dependency rule covers this package", rel))
			continue
		}
		for _, imp := range p.Imports {
			if !allowed(r, mod, imp, stdlib) {
				problems = append(problems, fmt.Sprintf("%s imports %s, against the dependency direction", rel, imp))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p)
		}
		os.Exit(1)
	}
	fmt.Println("depcheck: every import follows the dependency direction")
}

func ruleFor(rel string) (rule, bool) {
	for _, r := range rules {
		if rel == strings.TrimSuffix(r.prefix, "/") && !strings.HasSuffix(r.prefix, "/") ||
			strings.HasPrefix(rel, strings.TrimSuffix(r.prefix, "/")+"/") {
			return r, true
		}
	}
	return rule{}, false
}

func allowed(r rule, mod, imp string, stdlib map[string]bool) bool {
	if imp == mod || strings.HasPrefix(imp, mod+"/") {
		rel := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
		for _, a := range r.internal {
			base, tree := strings.CutSuffix(a, "/...")
			if a == "*" || rel == base || tree && strings.HasPrefix(rel, base+"/") {
				return true
			}
		}
		return false
	}
	for _, a := range r.external {
		switch {
		case a == "*":
			return true
		case a == "std" && stdlib[imp]:
			return true
		case strings.HasPrefix(a, "="):
			if imp == a[1:] {
				return true
			}
		case imp == a || strings.HasPrefix(imp, a+"/"):
			return true
		}
	}
	return false
}

func goList(args ...string) ([]byte, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "depcheck:", err)
	os.Exit(2)
}
