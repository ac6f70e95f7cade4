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
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/policies"
)

const projectDir = "microservices/alpha/dev"

func newEngine(t testing.TB) *policy.Engine {
	t.Helper()
	e, err := policy.New(context.Background(), policies.FS(), policy.Options{})
	if err != nil {
		t.Fatalf("compile default policies: %v", err)
	}
	return e
}

var expectMarker = regexp.MustCompile(`# expect: (\S+)`)

// markers returns "file:line RULE" for every `# expect: RULE` comment below
// root, so fixtures state where each finding must land.
func markers(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
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
			if m := expectMarker.FindStringSubmatch(sc.Text()); m != nil {
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

// localModules lists every dir under root/modules, standing in for the
// module graph the runner computes.
func localModules(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "modules"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, "modules/"+e.Name())
	}
	return out
}

func located(fs []policy.Finding, rule string) []string {
	var out []string
	for _, f := range fs {
		if rule == "" || f.Rule == rule {
			out = append(out, fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Rule))
		}
	}
	slices.Sort(out)
	return out
}

func TestDefaultPolicies(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name string
		rule string
		// want overrides the # expect: markers, for JSON which has no comments.
		want []string
	}{
		{name: "external_data", rule: "TFPR001"},
		{name: "providers", rule: "TFPR002"},
		{name: "module_sources", rule: "TFPR003"},
		{name: "backend", rule: "TFPR004"},
		{name: "backend_s3", rule: "TFPR004"},
		{name: "project", rule: "TFPR005"},
		{name: "labels", rule: "TFPR006"},
		{name: "public_bucket", rule: "TFPR007"},
		{name: "uniform_access", rule: "TFPR008"},
		{name: "project_iam", rule: "TFPR009"},
		{name: "primitive_roles", rule: "TFPR010"},
		{name: "service_account_key", rule: "TFPR011"},
		{name: "firewall", rule: "TFPR012"},
		// data "external" also uses the unlisted hashicorp/external provider.
		{name: "json", want: []string{
			projectDir + "/main.tf.json:19 TFPR012",
			projectDir + "/main.tf.json:9 TFPR001",
			projectDir + "/main.tf.json:9 TFPR002",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			bad := filepath.Join("testdata", "cases", tc.name, "bad")
			root, _ := filepath.Abs(bad)
			got, err := e.LintProject(ctx, root, projectDir, localModules(t, bad))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == nil {
				want = markers(t, bad)
			}
			if len(want) == 0 {
				t.Fatal("fixture has no # expect: markers")
			}
			if d := located(got, tc.rule); !slices.Equal(d, want) {
				t.Errorf("bad fixture findings for %s:\n got %q\nwant %q\nall: %+v", tc.rule, d, want, got)
			}
			for _, f := range got {
				if f.Message == "" || (f.Rule == tc.rule && f.Title == "") {
					t.Errorf("finding without message or title: %+v", f)
				}
			}

			good := filepath.Join("testdata", "cases", tc.name, "good")
			root, _ = filepath.Abs(good)
			got, err = e.LintProject(ctx, root, projectDir, localModules(t, good))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 {
				t.Errorf("good fixture has findings: %+v", got)
			}
		})
	}
}

func TestSeverityAndBlocking(t *testing.T) {
	e := newEngine(t)
	root, _ := filepath.Abs("testdata/cases/labels/bad")
	got, err := e.LintProject(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range got {
		if f.Severity != policy.SeverityWarn {
			t.Errorf("labels finding %s:%d is %s, want warn", f.File, f.Line, f.Severity)
		}
	}
	if policy.Blocking(got) {
		t.Error("warn-only findings must not block")
	}
	root, _ = filepath.Abs("testdata/cases/external_data/bad")
	got, err = e.LintProject(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !policy.Blocking(got) {
		t.Errorf("data external must block: %+v", got)
	}
}

// TestFindingDetails checks the fields a PR comment shows for the
// attribute-level project finding.
func TestFindingDetails(t *testing.T) {
	e := newEngine(t)
	root, _ := filepath.Abs("testdata/cases/project/bad")
	got, err := e.LintProject(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Finding{
		Rule: "TFPR005", Title: "resource outside the service's GCP project", Severity: policy.SeverityDeny,
		File: projectDir + "/main.tf", Line: 7, EndLine: 7,
		Address: "google_pubsub_topic.events", Attribute: "project",
		Message: `google_pubsub_topic.events uses GCP project other-prod; microservices/alpha/dev may only manage project "alpha-dev"`,
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestRules(t *testing.T) {
	rules := newEngine(t).Rules()
	byID := map[string]policy.RuleInfo{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	for id, stage := range map[string]string{"TFPR001": "hcl", "TFPR006": "hcl", "TFPR012": "hcl", "TFPR101": "plan", "TFPR102": "plan"} {
		r, ok := byID[id]
		if !ok {
			t.Errorf("rule %s missing from %+v", id, rules)
			continue
		}
		if r.Stage != stage || r.Title == "" || r.Package == "" || !strings.HasPrefix(r.Package, "tfpr."+stage+".") {
			t.Errorf("rule %s: %+v", id, r)
		}
	}
	for _, id := range []string{"TFPR005", "TFPR007", "TFPR008", "TFPR010", "TFPR012"} {
		if !slices.Equal(byID[id].Stages, []string{"hcl", "plan"}) {
			t.Errorf("value rule %s runs at %v, want hcl and plan", id, byID[id].Stages)
		}
	}
	if byID["TFPR001"].Stages != nil {
		t.Errorf("TFPR001 stages = %v, want only its own", byID["TFPR001"].Stages)
	}
	if byID["TFPR006"].Severity != policy.SeverityWarn || byID["TFPR001"].Severity != policy.SeverityDeny {
		t.Errorf("severities from METADATA wrong: %+v %+v", byID["TFPR006"], byID["TFPR001"])
	}
}
