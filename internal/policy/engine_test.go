package policy_test

import (
	"context"
	"encoding/json"
	"github.com/tfpr/tfpr/policies"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
)

func abs(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func find(fs []policy.Finding, rule, address string) *policy.Finding {
	for i := range fs {
		if fs[i].Rule == rule && fs[i].Address == address {
			return &fs[i]
		}
	}
	return nil
}

func TestSuppression(t *testing.T) {
	// By default the author's own tfpr:ignore cannot lift a denial; the
	// platform team may make chosen deny rules suppressible.
	withTFPR005, err := policy.New(context.Background(), policies.FS(), policy.Options{Params: map[string]any{"suppressible_rules": []any{"TFPR005"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		engine     *policy.Engine
		suppressed map[string]bool
	}{
		{"default", newEngine(t), map[string]bool{}},
		{"TFPR005 suppressible", withTFPR005, map[string]bool{"TFPR005 google_pubsub_topic.t": true}},
	} {
		got, err := tc.engine.LintProject(context.Background(), abs(t, "testdata/suppress"), projectDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ rule, address, reason string }{
			{"TFPR001", "data.external.static", "vetted: prints a static JSON document"},
			{"TFPR002", "data.external.static", "vetted: prints a static JSON document"},
			{"TFPR001", "data.external.noreason", ""},
			{"TFPR005", "google_pubsub_topic.t", "shared topic, approved in SEC-42"},
		} {
			f := find(got, c.rule, c.address)
			if f == nil {
				t.Errorf("%s: %s on %s was dropped; findings must always be reported: %+v", tc.name, c.rule, c.address, got)
				continue
			}
			want := tc.suppressed[c.rule+" "+c.address]
			if f.Suppressed != want || (want && f.SuppressReason != c.reason) {
				t.Errorf("%s: %s on %s: suppressed=%v reason=%q, want suppressed=%v", tc.name, c.rule, c.address, f.Suppressed, f.SuppressReason, want)
			}
			if !want && c.reason != "" && !strings.Contains(f.Message, "cannot lift this denial") {
				t.Errorf("%s: %s on %s should say why its tfpr:ignore did not count: %s", tc.name, c.rule, c.address, f.Message)
			}
		}
	}
	got, err := newEngine(t).LintProject(context.Background(), abs(t, "testdata/suppress"), projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var warns []policy.Finding
	for _, f := range got {
		if f.Rule == policy.RuleSuppression {
			warns = append(warns, f)
		}
	}
	// Only the reasonless comment on line 10 counts; the one inside a string
	// on line 21 is not a comment.
	if len(warns) != 1 || warns[0].Line != 10 || warns[0].Severity != policy.SeverityWarn {
		t.Errorf("suppression warnings = %+v, want one warn at line 10", warns)
	}
	if !policy.Blocking(got) {
		t.Error("the unsuppressed data external must still block")
	}
}

func TestParseError(t *testing.T) {
	got, err := newEngine(t).LintProject(context.Background(), abs(t, "testdata/parse"), projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var parse []policy.Finding
	for _, f := range got {
		if f.Rule == policy.RuleParse {
			parse = append(parse, f)
		}
	}
	if len(parse) == 0 {
		t.Fatalf("no parse finding: %+v", got)
	}
	p := parse[0]
	if p.File != projectDir+"/broken.tf" || p.Line != 7 || p.Severity != policy.SeverityDeny || p.Message == "" {
		t.Errorf("parse finding = %+v, want deny at %s/broken.tf:7", p, projectDir)
	}
	// The other, valid file is still evaluated.
	if find(got, "TFPR001", "data.external.x") == nil {
		t.Errorf("policies did not run on the valid file: %+v", got)
	}
}

func TestSkippedFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, projectDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("# padding\n", 120_000)
	files := map[string]string{
		"main.tf":    "terraform {\n  backend \"gcs\" {}\n}\n",
		"huge.tf":    big,
		"binary.tf":  "\x00\x01\x02",
		".hidden.tf": "data \"external\" \"x\" {}\n", // terraform ignores dotfiles too
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "evil.tf")
	if err := os.WriteFile(outside, []byte(`data "external" "x" {}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.tf")); err != nil {
		t.Fatal(err)
	}
	got, err := newEngine(t).LintProject(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]policy.Severity{
		projectDir + "/huge.tf":   policy.SeverityDeny, // terraform would load it unchecked
		projectDir + "/binary.tf": policy.SeverityDeny, // terraform loads it; never skipped
		projectDir + "/link.tf":   policy.SeverityDeny,
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want one finding each for %v", got, want)
	}
	for _, f := range got {
		if f.Rule != policy.RuleParse || want[f.File] != f.Severity {
			t.Errorf("unexpected finding %+v", f)
		}
	}
}

const meta = `# METADATA
# title: test policy
# custom:
#   id: %s
#   severity: deny
`

func policyFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

func withMeta(id, body string) string { return strings.Replace(meta, "%s", id, 1) + body }

func TestNewRejectsBadPolicies(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "syntax error",
			files: map[string]string{"bad.rego": "package tfpr.hcl.bad\n\ndeny contains msg if {\n  msg := \n}\n"},
			want:  []string{"bad.rego:5:", "rego_parse_error"},
		},
		{
			name:  "undefined function",
			files: map[string]string{"typo.rego": withMeta("T1", "package tfpr.hcl.typo\n\ndeny contains x if {\n  x := nosuch(1)\n}\n")},
			want:  []string{"typo.rego:9:", "nosuch"},
		},
		{
			name:  "http.send refused",
			files: map[string]string{"net.rego": withMeta("T2", "package tfpr.hcl.net\n\ndeny contains r.body if {\n  r := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1/\"})\n}\n")},
			want:  []string{"net.rego:9:", "http.send"},
		},
		{
			name:  "dns lookup refused",
			files: map[string]string{"dns.rego": withMeta("T3", "package tfpr.hcl.dns\n\ndeny contains \"x\" if {\n  net.lookup_ip_addr(\"example.com\")\n}\n")},
			want:  []string{"dns.rego:9:", "net.lookup_ip_addr"},
		},
		{
			name:  "opa.runtime refused",
			files: map[string]string{"rt.rego": withMeta("T4", "package tfpr.hcl.rt\n\ndeny contains sprintf(\"%v\", [opa.runtime().env])\n")},
			want:  []string{"rt.rego:8:", "opa.runtime"},
		},
		{
			name:  "missing metadata",
			files: map[string]string{"nometa.rego": "package tfpr.hcl.nometa\n\ndeny contains \"x\"\n"},
			want:  []string{"nometa.rego:1:", "METADATA"},
		},
		{
			name: "duplicate rule id",
			files: map[string]string{
				"a.rego": withMeta("DUP1", "package tfpr.hcl.a\n\ndeny contains \"a\"\n"),
				"b.rego": withMeta("DUP1", "package tfpr.hcl.b\n\ndeny contains \"b\"\n"),
			},
			want: []string{"DUP1", "already used"},
		},
		{
			name:  "single-value deny",
			files: map[string]string{"single.rego": withMeta("T5", "package tfpr.hcl.single\n\ndeny := \"x\"\n")},
			want:  []string{"single.rego:8:", "multi-value"},
		},
		{
			name:  "unknown scope",
			files: map[string]string{"scope.rego": strings.Replace(withMeta("T6", "package tfpr.hcl.scope\n\ndeny contains \"x\"\n"), "#   severity: deny\n", "#   severity: deny\n#   scope: file\n", 1)},
			want:  []string{"scope.rego:7:", "custom.scope", `"file"`},
		},
		{
			name:  "module scope in the plan stage",
			files: map[string]string{"plan.rego": strings.Replace(withMeta("T7", "package tfpr.plan.scope\n\ndeny contains \"x\"\n"), "#   severity: deny\n", "#   severity: deny\n#   scope: module\n", 1)},
			want:  []string{"plan.rego:7:", "tfpr.hcl packages only"},
		},
		{
			name:  "unknown stage",
			files: map[string]string{"st.rego": strings.Replace(withMeta("T8", "package tfpr.hcl.st\n\ndeny contains \"x\"\n"), "#   severity: deny\n", "#   severity: deny\n#   stages: [hcl, apply]\n", 1)},
			want:  []string{"st.rego:7:", "custom.stages", "apply"},
		},
		{
			name:  "stages without the package's own",
			files: map[string]string{"own.rego": strings.Replace(withMeta("T9", "package tfpr.hcl.own\n\ndeny contains \"x\"\n"), "#   severity: deny\n", "#   severity: deny\n#   stages: [plan]\n", 1)},
			want:  []string{"own.rego:7:", "must include \"hcl\""},
		},
		{
			name:  "no policies",
			files: map[string]string{"README.md": "nothing"},
			want:  []string{"no .rego files"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.New(context.Background(), policyFS(tc.files), policy.Options{})
			if err == nil {
				t.Fatal("New accepted invalid policies")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSlowPolicyFailsClosed(t *testing.T) {
	files := map[string]string{
		"a.rego": withMeta("FAST1", "package tfpr.hcl.a_fast\n\ndeny contains \"fast\" if false\n"),
		"slow.rego": withMeta("SLOW1", `package tfpr.hcl.slow

deny contains "never" if {
	some i in numbers.range(1, 3000)
	some j in numbers.range(1, 3000)
	some k in numbers.range(1, 3000)
	i + j + k < 0
}
`),
		"z.rego": withMeta("LAST1", "package tfpr.hcl.z_last\n\ndeny contains \"last\" if false\n"),
	}
	const timeout = 300 * time.Millisecond
	e, err := policy.New(context.Background(), policyFS(files), policy.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := e.LintProject(context.Background(), abs(t, "testdata/cases/backend/good"), projectDir, nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed > timeout+2*time.Second {
		t.Errorf("evaluation took %s with a %s timeout", elapsed, timeout)
	}
	if len(got) != 1 || got[0].Rule != policy.RulePolicyError || got[0].Severity != policy.SeverityDeny {
		t.Fatalf("got %+v, want one policy-error deny", got)
	}
	if !strings.Contains(got[0].Message, "SLOW1") || !strings.Contains(got[0].Message, "slow.rego") {
		t.Errorf("message %q does not name the slow policy", got[0].Message)
	}
	if !policy.Blocking(got) {
		t.Error("a timed-out policy must block")
	}
}

func TestRuntimeErrorFailsClosed(t *testing.T) {
	files := map[string]string{
		"conflict.rego": withMeta("ERR1", `package tfpr.hcl.conflict

deny contains msg if {
	msg := sprintf("%d", [to_number(input.project.dir)])
}
`),
	}
	e, err := policy.New(context.Background(), policyFS(files), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.LintProject(context.Background(), abs(t, "testdata/cases/backend/good"), projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Rule != policy.RulePolicyError || !strings.Contains(got[0].Message, "ERR1") {
		t.Errorf("got %+v, want one policy-error naming ERR1", got)
	}
}

func TestParams(t *testing.T) {
	e, err := policy.New(context.Background(), policyFSFromDefaults(t), policy.Options{
		Params: map[string]any{"project_pattern": "acme-{service}-{env}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.LintProject(context.Background(), abs(t, "testdata/cases/project/good"), projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := find(got, "TFPR005", "google_pubsub_topic.events")
	if f == nil || !strings.Contains(f.Message, "acme-alpha-dev") {
		t.Errorf("project_pattern param not applied: %+v", got)
	}
}

func TestConcurrentLint(t *testing.T) {
	e := newEngine(t)
	cases := []string{"external_data/bad", "project/bad", "json/bad", "firewall/good", "labels/bad"}
	want := map[string][]policy.Finding{}
	for _, c := range cases {
		root := abs(t, filepath.Join("testdata/cases", c))
		got, err := e.LintProject(context.Background(), root, projectDir, localModules(t, root))
		if err != nil {
			t.Fatal(err)
		}
		want[c] = got
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(cases)*5)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 * len(cases) {
				c := cases[(g+i)%len(cases)]
				root := abs(t, filepath.Join("testdata/cases", c))
				got, err := e.LintProject(context.Background(), root, projectDir, localModules(t, root))
				if err != nil {
					errs <- err.Error()
					continue
				}
				if !reflect.DeepEqual(got, want[c]) {
					errs <- c + ": result differs from sequential run"
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestInputDocument pins the parts of the input that policy authors rely on
// and policies/README.md documents.
func TestInputDocument(t *testing.T) {
	in, findings, err := policy.BuildInput(context.Background(), abs(t, "testdata/cases/project/good"), projectDir, nil)
	if err != nil || len(findings) != 0 {
		t.Fatal(err, findings)
	}
	raw, _ := json.Marshal(in)
	var doc struct {
		Project   map[string]string `json:"project"`
		Backend   map[string]any    `json:"backend"`
		Resources []struct {
			Type, Name, Address, File, Module string
			Range                             struct{ StartLine, EndLine int } `json:"range"`
			Attributes                        map[string]struct {
				Value any      `json:"value"`
				Expr  string   `json:"expr"`
				Refs  []string `json:"refs"`
				Range struct {
					StartLine int `json:"start_line"`
				} `json:"range"`
			} `json:"attributes"`
			ProviderSource string `json:"provider_source"`
		} `json:"resources"`
		Variables       []map[string]any                      `json:"variables"`
		Locals          []map[string]any                      `json:"locals"`
		ResourcesByType map[string][]struct{ Address string } `json:"resources_by_type"`
		DataByType      map[string][]struct{ Address string } `json:"data_by_type"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Project["service"] != "alpha" || doc.Project["env"] != "dev" || doc.Project["dir"] != projectDir {
		t.Errorf("project = %v", doc.Project)
	}
	if doc.Backend["type"] != "gcs" {
		t.Errorf("backend = %v", doc.Backend)
	}
	if len(doc.Resources) != 2 || len(doc.Variables) != 1 || len(doc.Locals) != 1 {
		t.Fatalf("resources/variables/locals = %d/%d/%d", len(doc.Resources), len(doc.Variables), len(doc.Locals))
	}
	events, dlq := doc.Resources[0], doc.Resources[1]
	if events.Address != "google_pubsub_topic.events" || events.File != projectDir+"/main.tf" || events.ProviderSource != "hashicorp/google" {
		t.Errorf("events = %+v", events)
	}
	p := events.Attributes["project"]
	if p.Value != "alpha-dev" || p.Expr != `"alpha-dev"` || len(p.Refs) != 0 || p.Range.StartLine != 11 {
		t.Errorf("static project attribute = %+v", p)
	}
	byType := map[string][]string{}
	for typ, bs := range doc.ResourcesByType {
		for _, b := range bs {
			byType[typ] = append(byType[typ], b.Address)
		}
	}
	if want := map[string][]string{"google_pubsub_topic": {events.Address, dlq.Address}}; !reflect.DeepEqual(byType, want) || doc.DataByType == nil || len(doc.DataByType) != 0 {
		t.Errorf("resources_by_type = %v, data_by_type = %v; want %v and {}", byType, doc.DataByType, want)
	}
	labels := dlq.Attributes["labels"]
	if labels.Value != nil || labels.Expr != `merge(local.labels, { purpose = "dlq" })` || !reflect.DeepEqual(labels.Refs, []string{"local.labels"}) {
		t.Errorf("dynamic labels attribute = %+v", labels)
	}
}

func policyFSFromDefaults(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	entries, err := os.ReadDir("../../policies")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".rego") {
			b, err := os.ReadFile(filepath.Join("../../policies", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			fsys[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return fsys
}
