package policy_test

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

const valuesTree = "testdata/values"

// jsonDenials are the denials in the tree's .tf.json file, which has no
// comments to mark them: templates, evaluated as terraform does.
var jsonDenials = []string{
	projectDir + "/json.tf.json:7 TFPR007",
	projectDir + "/json.tf.json:13 TFPR010",
}

// expectedDenials are the tree's markers and jsonDenials, sorted.
func expectedDenials(t *testing.T, root string) []string {
	want := append(markers(t, root), jsonDenials...)
	slices.Sort(want)
	return want
}

// markersOf returns "file:line RULE" for every comment matching re (one
// group: the rule) below root.
func markersOf(t *testing.T, root string, re *regexp.Regexp) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".tf" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, p)
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				out = append(out, fmt.Sprintf("%s:%d %s", filepath.ToSlash(rel), n, m[1]))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

var expectWarnMarker = regexp.MustCompile(`# expect-warn: (\S+)`)

// bySeverity lists "file:line RULE" of the findings of one severity, once
// per place.
func bySeverity(fs []policy.Finding, sev policy.Severity) []string {
	var out []string
	for _, f := range fs {
		if f.Severity == sev {
			out = append(out, fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Rule))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestLintEvaluatesValues lints a project that writes every bad value of
// the value policies through indirection: locals (also built from locals
// with functions and conditionals), variable defaults, terraform.tfvars,
// *.auto.tfvars.json, count, for_each, dynamic blocks and JSON-syntax
// templates. Each must be
// denied at the attribute's line; what depends on a resource or a module
// input is a warning that plan checks it.
func TestLintEvaluatesValues(t *testing.T) {
	root := abs(t, valuesTree)
	got, err := newEngine(t).LintProject(context.Background(), root, projectDir, []string{"modules/grant"})
	if err != nil {
		t.Fatal(err)
	}
	if want, d := expectedDenials(t, root), bySeverity(got, policy.SeverityDeny); !slices.Equal(d, want) {
		t.Errorf("denials:\n got %q\nwant %q", d, want)
	}
	if want, d := markersOf(t, root, expectWarnMarker), bySeverity(got, policy.SeverityWarn); !slices.Equal(d, want) {
		t.Errorf("warnings:\n got %q\nwant %q", d, want)
	}
	for _, f := range got {
		if f.Severity == policy.SeverityWarn && f.Rule != "TFPR006" && !regexp.MustCompile(`checks it at plan`).MatchString(f.Message) {
			t.Errorf("warning does not say plan checks it: %+v", f)
		}
	}
}

// TestPlanDeniesSameValues runs the same rules on the plan of that project:
// every value lint denied is denied at the same place, and what lint could
// only warn about is judged on its planned value (the module's role is
// denied, the computed member is fine).
func TestPlanDeniesSameValues(t *testing.T) {
	root := abs(t, valuesTree)
	planJSON, err := os.ReadFile(filepath.Join(root, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := newEngine(t).CheckPlan(context.Background(), root, projectDir, planJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := append(expectedDenials(t, root), "modules/grant/main.tf:11 TFPR010")
	slices.Sort(want)
	if d := bySeverity(got, policy.SeverityDeny); !slices.Equal(d, want) {
		t.Errorf("plan denials:\n got %q\nwant %q\nall: %+v", d, want, got)
	}
	if w := bySeverity(got, policy.SeverityWarn); len(w) != 0 {
		t.Errorf("plan stage warned %q; unknown-value warnings belong to lint", w)
	}
	if !policy.Blocking(got) {
		t.Error("plan with public buckets and primitive roles must block")
	}
	approved, err := newEngine(t).CheckPlan(context.Background(), root, projectDir, planJSON,
		[]string{"TFPR005", "TFPR007", "TFPR008", "TFPR010", "TFPR012"})
	if err != nil {
		t.Fatal(err)
	}
	if policy.Blocking(approved) {
		t.Errorf("approved plan still blocks: %+v", approved)
	}
}
