package commands

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCommandNamesListsEveryHandler reads the package's source for the names handlers report
// (begin(ctx, "Name") and line(ctx, "Name", ...)) and wants CommandNames to hold exactly those, so
// that a new handler cannot be missing from the metrics that start at zero.
func TestCommandNamesListsEveryHandler(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "begin" && sel.Sel.Name != "line") {
				return true
			}
			if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				name, _ := strconv.Unquote(lit.Value)
				found = append(found, name)
			}
			return true
		})
	}
	slices.Sort(found)
	want := slices.Sorted(slices.Values(CommandNames))
	if !slices.Equal(found, want) {
		t.Fatalf("handlers report %v,\nCommandNames lists %v", found, want)
	}
}
