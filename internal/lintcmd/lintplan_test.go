package lintcmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

// sharedModulesTree writes copies of a monorepo where every dir is a
// project and modules call modules, so the same module is a project of
// its own and a module of many callers linted before and after it. Each
// module holds a finding at a known line. It returns the root and the
// number of .tf files.
func sharedModulesTree(t *testing.T, copies int) (string, int) {
	t.Helper()
	root := t.TempDir()
	files := 0
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		files++
	}
	backend := "terraform {\n  backend \"gcs\" {}\n}\n"
	call := func(name, source string) string { return fmt.Sprintf("module %q {\n  source = %q\n}\n", name, source) }
	for c := range copies {
		for m := range 6 {
			var calls string
			if m > 0 {
				calls = call("down", fmt.Sprintf("../m%d", m-1))
			}
			dir := fmt.Sprintf("c%d/modules/m%d", c, m)
			write(dir+"/main.tf", backend+calls)
			write(dir+"/data.tf", fmt.Sprintf("data \"external\" \"m%d\" {\n  program = [\"x\"]\n}\n", m))
		}
		for s := range 4 {
			// m4 and m5 are linted before any project calls them.
			write(fmt.Sprintf("c%d/a_stages/s%d/main.tf", c, s), backend+call("mid", fmt.Sprintf("../../modules/m%d", s)))
			write(fmt.Sprintf("c%d/z_stages/s%d/main.tf", c, s), backend+call("low", fmt.Sprintf("../../modules/m%d", s%2)))
		}
	}
	return root, files
}

// TestLintParsesEachFileOnce checks that a module linted as a project of
// its own, before and after the projects that call it, is parsed once.
func TestLintParsesEachFileOnce(t *testing.T) {
	ctx := context.Background()
	root, files := sharedModulesTree(t, 2)
	engine := lintEngine(t)
	for _, workers := range []int{1, 2} {
		tree, scanned := openTree(t, engine, root)
		got, ok, err := streamProjects(ctx, tree, root, scanned, ".", noScope(), workers)
		if err != nil || !ok {
			t.Fatalf("workers %d: ok=%v, %v", workers, ok, err)
		}
		if len(got) != 2*14 {
			t.Errorf("workers %d: linted %d projects, want 28", workers, len(got))
		}
		if n := tree.FilesParsed(); n != int64(files) {
			t.Errorf("workers %d: parsed %d files for the %d in the tree; each must be parsed once", workers, n, files)
		}
	}
}

// TestLintFindingsDoNotDependOnWorkers checks that tfpr lint reports the
// same findings, same file:line and same order, with 1 and 2 workers.
func TestLintFindingsDoNotDependOnWorkers(t *testing.T) {
	root, _ := sharedModulesTree(t, 3)
	t.Chdir(root)
	var outs []string
	for _, jobs := range []string{"1", "2"} {
		stdout, stderr, code := lint(t, "--jobs", jobs, ".")
		if code != 1 {
			t.Fatalf("--jobs %s: exit %d, want 1 (each module denies external data): %s", jobs, code, stderr)
		}
		outs = append(outs, stdout)
	}
	if outs[0] != outs[1] {
		t.Errorf("findings differ between 1 and 2 workers:\n--jobs 1:\n%s\n--jobs 2:\n%s", outs[0], outs[1])
	}
	for m := range 6 {
		want := fmt.Sprintf("c2/modules/m%d/data.tf:1", m)
		if !strings.Contains(outs[0], want) {
			t.Errorf("no finding at %s:\n%s", want, outs[0])
		}
	}
	if _, stderr, code := lint(t, "--jobs", "0", "."); code != 2 || !strings.Contains(stderr, "--jobs") {
		t.Errorf("--jobs 0: exit %d, %q; want 2 naming --jobs", code, stderr)
	}
}

// TestLintOrder checks that a module that is also a project is linted
// just before its first caller, callees first, and that everything else
// keeps its sorted order.
func TestLintOrder(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		closure    [][]string
		want       []string
	}{{
		name:       "no modules",
		candidates: []string{"a", "b", "c"},
		closure:    [][]string{{"a"}, {"b"}, {"c"}},
		want:       []string{"a", "b", "c"},
	}, {
		name:       "modules after their callers move before the first",
		candidates: []string{"blueprints/x", "blueprints/y", "modules/m", "modules/n"},
		closure:    [][]string{{"blueprints/x", "modules/m", "modules/n"}, {"blueprints/y", "modules/n"}, {"modules/m", "modules/n"}, {"modules/n"}},
		want:       []string{"modules/n", "modules/m", "blueprints/x", "blueprints/y"},
	}, {
		name:       "dirs without a backend keep their place and pull nothing",
		candidates: []string{"a", "lib", "modules/m"},
		closure:    [][]string{{"a", "lib", "modules/m"}, nil, {"modules/m"}},
		want:       []string{"modules/m", "a", "lib"},
	}, {
		name:       "a cycle ends",
		candidates: []string{"a", "b"},
		closure:    [][]string{{"a", "b"}, {"b", "a"}},
		want:       []string{"b", "a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, i := range lintOrder(tt.candidates, tt.closure) {
				got = append(got, tt.candidates[i])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDedupeDoesNotDependOnOrder gives the findings of projects in two
// orders, with a module's finding repeated by each caller and different
// findings on one line: the report is the same, each finding once.
func TestDedupeDoesNotDependOnOrder(t *testing.T) {
	mod := policy.Finding{Rule: "TFPR001", Severity: policy.SeverityDeny, File: "modules/m/main.tf", Line: 3, Message: "external data"}
	a := policy.Finding{Rule: "TFPR005", Severity: policy.SeverityDeny, File: "modules/m/main.tf", Line: 3, Message: "a may only manage project \"a\""}
	b := a
	b.Message = "b may only manage project \"b\""
	own := policy.Finding{Rule: "TFPR006", Severity: policy.SeverityWarn, File: "a/main.tf", Line: 9, Message: "labels"}
	first := dedupe([]policy.Finding{mod, a, own, mod, b})
	second := dedupe([]policy.Finding{b, mod, mod, own, a})
	if !slices.Equal(first, second) {
		t.Errorf("order of discovery changed the report:\n%v\n%v", first, second)
	}
	if len(first) != 4 {
		t.Errorf("got %d findings, want 4 (the module's once): %v", len(first), first)
	}
	set := newFindingSet()
	if got := set.add([]policy.Finding{mod, a}); len(got) != 2 {
		t.Errorf("first caller kept %d of 2", len(got))
	}
	if got := set.add([]policy.Finding{mod, b}); len(got) != 1 || got[0] != b {
		t.Errorf("second caller kept %v, want only its own %v", got, b)
	}
}
