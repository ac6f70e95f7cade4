package project

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A Scanner gives the graph Scan gives, commit after commit, and parses
// only what changed: a remembered file is one with the same path and bytes.
func TestScannerParsesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	caller := func(module string) string {
		return "module \"m\" {\n  source = \"../../../modules/" + module + "\"\n}\n"
	}
	writeTree(t, root, map[string]string{
		"microservices/a/prod/backend.tf": backendGCS,
		"microservices/a/prod/main.tf":    caller("x"),
		"microservices/b/prod/backend.tf": backendGCS,
		"microservices/b/prod/main.tf":    caller("y"),
		"modules/x/main.tf":               "locals {\n  cfg = file(\"${path.module}/cfg.json\")\n}\n",
		"modules/x/cfg.json":              "{}",
		"modules/y/main.tf":               "variable \"v\" {}\n",
	})
	s := NewScanner(100, 1<<20)
	same := func(step string) *Graph {
		t.Helper()
		got, err := s.Scan(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Scan(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the Scanner's graph differs from Scan's:\n%+v\nwant\n%+v", step, got, want)
		}
		return got
	}
	decoded := func(step string, want int64) {
		t.Helper()
		if n := s.decoded.Swap(0); n != want {
			t.Errorf("%s: parsed %d files, want %d", step, n, want)
		}
	}
	same("first scan")
	decoded("first scan", 6)
	same("same tree")
	decoded("same tree", 0)

	// b moves to module x, x gains a syntax error, and a's main.tf is
	// copied to a new project, where its findings must name the new path.
	writeTree(t, root, map[string]string{
		"microservices/b/prod/main.tf": caller("x"),
		"modules/x/broken.tf":          "locals {\n",
		"microservices/c/prod/main.tf": "module \"m\" {\n  source = \"../../../modules/x\"\n  bad = \n}\n",
		"microservices/c/prod/b.tf":    backendGCS,
	})
	g := same("second commit")
	decoded("second commit", 4)
	if got := g.Modules("microservices/b/prod"); !slices.Equal(got, []string{"modules/x"}) {
		t.Errorf("b calls %v after the change, want [modules/x]", got)
	}
	if got := g.Affected([]string{"modules/x/cfg.json"}); !slices.Equal(got, []string{"microservices/a/prod", "microservices/b/prod", "microservices/c/prod"}) {
		t.Errorf("a change to the file module x reads affects %v", got)
	}
	if err := os.Remove(filepath.Join(root, "modules/x/broken.tf")); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, map[string]string{"microservices/b/prod/main.tf": caller("y")})
	same("back to the first commit's files")
	decoded("back to the first commit's files", 0)
}

// What a Scanner remembers stays within its byte budget, whatever the
// files weigh: the least recently used go first, a file heavier than the
// whole budget is never kept, and the graph is Scan's all the same.
func TestScannerKeepsToItsByteBudget(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	files := map[string]string{"microservices/a/prod/backend.tf": backendGCS}
	for i := range 20 {
		// About 200 bytes of source each, weighing 1 KiB each.
		files[fmt.Sprintf("modules/m/v%02d.tf", i)] = fmt.Sprintf("variable \"v%02d\" {\n  default = %q\n}\n", i, strings.Repeat("x", 160))
	}
	files["modules/big/main.tf"] = "locals {\n  big = \"" + strings.Repeat("y", 4<<10) + "\"\n}\n"
	writeTree(t, root, files)
	const budget = 8 << 10
	s := NewScanner(1000, budget)
	want, err := Scan(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := s.Scan(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the Scanner's graph differs from Scan's:\n%+v\nwant\n%+v", got, want)
		}
		if n := s.bytes.Load(); n > budget || n <= 0 {
			t.Fatalf("the Scanner holds %d bytes, want some and at most %d", n, budget)
		}
	}
	if n, kept := s.decoded.Load(), s.files.Len(); n <= int64(len(files)) || kept >= len(files) {
		t.Errorf("parsed %d files in two scans of %d and kept %d: the budget held nothing back", n, len(files), kept)
	}
}
