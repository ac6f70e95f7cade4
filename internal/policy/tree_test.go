package policy_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/policies"
)

// sharedModuleTree writes two projects calling one local module that breaks
// every HCL rule, a second module it calls in turn, and a JSON module.
func sharedModuleTree(t *testing.T) (root string, projects map[string][]string) {
	t.Helper()
	root = t.TempDir()
	files := map[string]string{
		"modules/bad/main.tf": `terraform {
  required_providers {
    evil = {
      source = "evilcorp/evil"
    }
  }
  backend "s3" {}
}

# tfpr:ignore TFPR006 labels come from the caller
resource "google_storage_bucket" "b" {
  name    = "b"
  project = "alpha-dev"
}

resource "google_storage_bucket_iam_member" "pub" {
  bucket = "b"
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

resource "google_project_iam_binding" "b" {
  project = "beta-prod"
  role    = "roles/editor"
  members = []
}

resource "google_service_account_key" "k" {
  service_account_id = "x"
}

resource "google_compute_firewall" "ssh" {
  name          = "ssh"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["20-30"]
  }
}

resource "aws_s3_bucket" "x" {}

resource "google_pubsub_topic" "t" {
  name   = "t"
  labels = { service = "a" }
}

check "c" {
  data "external" "x" {
    program = ["sh"]
  }
}

module "inner" {
  source = "../inner"
}

module "far" {
  source = "github.com/x/y"
}
`,
		"modules/inner/main.tf": `data "google_iam_policy" "p" {
  binding {
    role    = "roles/owner"
    members = ["user:x@example.com"]
  }
}

provider "kubernetes" {}
`,
		"modules/json/main.tf.json": `{
  "resource": {
    "google_compute_firewall": {
      "fw": {"name": "fw", "network": "default", "source_ranges": ["::/0"], "allow": [{"protocol": "all"}]}
    },
    "google_storage_bucket": {"jb": {"name": "jb", "uniform_bucket_level_access": false, "project": "gamma-dev"}}
  }
}
`,
	}
	projects = map[string][]string{}
	for _, p := range []string{"microservices/alpha/dev", "microservices/beta/prod"} {
		files[p+"/main.tf"] = `terraform {
  backend "gcs" {}
}

module "bad" {
  source  = "../../../modules/bad"
  project = "alpha-dev"
}

module "json" {
  source = "../../../modules/json"
}
`
		projects[p] = []string{"modules/bad", "modules/inner", "modules/json"}
	}
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, projects
}

// wholeProjectPolicies is the default policies without custom.scope, so
// every package sees the whole project in one evaluation.
func wholeProjectPolicies(t *testing.T) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(policies.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS(), p)
		if err != nil {
			return err
		}
		out[p] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(b), "#   scope: module\n", ""))}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestModuleScopeMatchesWholeProject checks the promise behind custom.scope:
// evaluating the default policies module by module, and a shared module once
// for all its callers, finds exactly what one evaluation of the whole
// project finds, in the same order.
func TestModuleScopeMatchesWholeProject(t *testing.T) {
	ctx := context.Background()
	split := newEngine(t)
	whole, err := policy.New(ctx, wholeProjectPolicies(t), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name, root, dir string
		modules         []string
	}
	var cases []tc
	shared, projects := sharedModuleTree(t)
	for dir, mods := range projects {
		cases = append(cases, tc{"shared " + dir, shared, dir, mods})
	}
	fixtures, _ := filepath.Glob("testdata/cases/*/*")
	fixtures = append(fixtures, "testdata/suppress", "testdata/parse")
	for _, f := range fixtures {
		cases = append(cases, tc{f, abs(t, f), projectDir, localModules(t, f)})
	}
	found := 0
	for _, c := range cases {
		want, err := whole.LintProject(ctx, c.root, c.dir, c.modules)
		if err != nil {
			t.Fatal(err)
		}
		// Twice: the second run takes module results from the cache.
		for range 2 {
			got, err := split.LintProject(ctx, c.root, c.dir, c.modules)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: per-module findings differ from whole-project ones\n got %+v\nwant %+v", c.name, got, want)
			}
		}
		found += len(want)
	}
	if found < 50 {
		t.Errorf("only %d findings in all fixtures; the comparison proves little", found)
	}
}

// TestModuleScopeJoinsLikeOneSet checks the merge of per-module results: a
// value several modules produce is one finding, and findings without a
// place keep the order of Rego's set, as from one evaluation.
func TestModuleScopeJoinsLikeOneSet(t *testing.T) {
	ctx := context.Background()
	src := withMeta("JOIN1", `package tfpr.hcl.join

deny contains "some module has resources" if count(input.resources) > 0

deny contains b.address if some b in input.resources
`)
	root, projects := sharedModuleTree(t)
	scoped, err := policy.New(ctx, policyFS(map[string]string{"p.rego": strings.Replace(src, "#   severity: deny\n", "#   severity: deny\n#   scope: module\n", 1)}), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := policy.New(ctx, policyFS(map[string]string{"p.rego": src}), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := "microservices/alpha/dev"
	got, err := scoped.LintProject(ctx, root, dir, projects[dir])
	if err != nil {
		t.Fatal(err)
	}
	want, err := whole.LintProject(ctx, root, dir, projects[dir])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per-module results joined differently:\n got %+v\nwant %+v", got, want)
	}
	n := 0
	for _, f := range got {
		if f.Message == "some module has resources" {
			n++
		}
	}
	if n != 1 || len(got) < 10 {
		t.Errorf("%d findings for the value all modules produce, %d in all; want 1 of more than 10", n, len(got))
	}
}

// TestSharedModuleFindings checks what each caller of a shared module is
// told: findings inside the module point at the module's file, and rules
// that read input.project judge the module for each caller.
func TestSharedModuleFindings(t *testing.T) {
	ctx := context.Background()
	root, projects := sharedModuleTree(t)
	tree, err := newEngine(t).OpenTree(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	for dir, mods := range projects {
		got, err := tree.LintProject(ctx, dir, mods)
		if err != nil {
			t.Fatal(err)
		}
		f := find(got, "TFPR001", "data.external.x")
		if f == nil || f.File != "modules/bad/main.tf" || f.Line != 50 {
			t.Errorf("%s: data external in the module: %+v", dir, f)
		}
		if f := find(got, "TFPR010", "data.google_iam_policy.p"); f == nil || f.File != "modules/inner/main.tf" || f.Line != 3 {
			t.Errorf("%s: role in the nested module: %+v", dir, f)
		}
		if f := find(got, "TFPR012", "google_compute_firewall.fw"); f == nil || f.File != "modules/json/main.tf.json" {
			t.Errorf("%s: firewall in the JSON module: %+v", dir, f)
		}
		// modules/bad hard-codes alpha-dev: fine for alpha/dev, not for beta/prod.
		var bucket *policy.Finding
		for i := range got {
			if got[i].Rule == "TFPR005" && got[i].Address == "google_storage_bucket.b" {
				bucket = &got[i]
			}
		}
		switch {
		case dir == "microservices/alpha/dev" && bucket != nil:
			t.Errorf("%s: its own project flagged: %+v", dir, bucket)
		case dir == "microservices/beta/prod" && (bucket == nil || bucket.File != "modules/bad/main.tf" || bucket.Line != 13 ||
			!strings.Contains(bucket.Message, "microservices/beta/prod may only manage project \"beta-prod\"")):
			t.Errorf("%s: module's literal project not judged for this caller: %+v", dir, bucket)
		}
		// Suppressions in the module count for every caller, and warnings only.
		if f := find(got, "TFPR006", "google_storage_bucket.b"); f == nil || !f.Suppressed {
			t.Errorf("%s: tfpr:ignore on the module's bucket: %+v", dir, f)
		}
	}
}

// TestTreeConcurrentUse lints projects sharing modules from many goroutines
// (run with -race) and checks each gets what a lone LintProject gets.
func TestTreeConcurrentUse(t *testing.T) {
	ctx := context.Background()
	root, projects := sharedModuleTree(t)
	e := newEngine(t)
	want := map[string][]policy.Finding{}
	for dir, mods := range projects {
		got, err := e.LintProject(ctx, root, dir, mods)
		if err != nil {
			t.Fatal(err)
		}
		want[dir] = got
	}
	for _, opts := range []policy.Options{{}, {NoCache: true}} {
		e, err := policy.New(ctx, policies.FS(), opts)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := e.OpenTree(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				for dir, mods := range projects {
					got, err := tree.LintProject(ctx, dir, mods)
					if err != nil {
						t.Error(err)
						return
					}
					if !reflect.DeepEqual(got, want[dir]) {
						t.Errorf("NoCache=%v, goroutine %d: %s differs from a lone LintProject", opts.NoCache, i, dir)
					}
					if i%4 == 0 {
						tree.Forget(dir)
					}
				}
			})
		}
		wg.Wait()
		tree.Close()
	}
}

func TestTreeDir(t *testing.T) {
	ctx := context.Background()
	root, _ := sharedModuleTree(t)
	write := func(rel, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("broken/main.tf", "terraform {\n  backend \"gcs\" {}\n}\nresource \"x\" {\n")
	write("labelled/main.tf", "terraform \"x\" {\n  backend \"gcs\" {}\n}\nmodule \"a\" {\n  source = \"../../outside\"\n}\nmodule \"b\" {\n  source = var.x\n}\n")
	write("main.tf", "terraform {\n  backend \"gcs\" {}\n}\nmodule \"m\" {\n  source = \"./modules/json\"\n}\n")
	tree, err := newEngine(t).OpenTree(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	tests := []struct {
		dir  string
		want policy.DirInfo
	}{
		{"microservices/alpha/dev", policy.DirInfo{Backend: true, Calls: []string{"modules/bad", "modules/json"}, Clean: true}},
		// A backend makes a module dir a project too, as for project.Scan.
		{"modules/bad", policy.DirInfo{Backend: true, Calls: []string{"modules/inner"}, Clean: true}},
		{"modules/json", policy.DirInfo{Clean: true}},
		{"", policy.DirInfo{Backend: true, Calls: []string{"modules/json"}, Clean: true}},
		// A labelled terraform block declares nothing; escaping and
		// computed sources are no local calls.
		{"labelled", policy.DirInfo{Clean: true}},
		// A file that did not parse declares nothing here: it is listed
		// for the module graph to read the way project.Scan does.
		{"broken", policy.DirInfo{Clean: false, Unparsed: []string{"broken/main.tf"}}},
	}
	for _, tc := range tests {
		got, err := tree.Dir(ctx, tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Dir(%q) = %+v, want %+v", tc.dir, got, tc.want)
		}
	}
	if _, err := tree.Dir(ctx, "nope"); err == nil {
		t.Error("Dir of a missing directory: no error")
	}
}

// TestModuleFailureFailsEachCaller checks that a module-scope policy failing
// on a shared module blocks every project calling it, every time, naming
// the policy.
func TestModuleFailureFailsEachCaller(t *testing.T) {
	ctx := context.Background()
	src := strings.Replace(withMeta("BOOM1", `package tfpr.hcl.boom

deny contains msg if {
	some b in input.resources
	b.type == "google_service_account_key"
	msg := sprintf("%d", [to_number(b.name)])
}
`), "#   severity: deny\n", "#   severity: deny\n#   scope: module\n", 1)
	e, err := policy.New(ctx, policyFS(map[string]string{"boom.rego": src}), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, projects := sharedModuleTree(t)
	tree, err := e.OpenTree(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	for range 2 {
		for dir, mods := range projects {
			got, err := tree.LintProject(ctx, dir, mods)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Rule != policy.RulePolicyError || got[0].File != dir ||
				!strings.Contains(got[0].Message, "BOOM1") || !policy.Blocking(got) {
				t.Errorf("%s: %+v, want one blocking policy-error naming BOOM1", dir, got)
			}
		}
	}
}

// TestSettleNeverJudgesWithoutValues settles a dir before any part of it
// is built: the part built afterwards must still know the values its
// locals compute (read again), not judge unknowns.
func TestSettleNeverJudgesWithoutValues(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := projectDir
	writeProject(t, root, map[string]string{"main.tf": `terraform {
  backend "gcs" {}
}

locals {
  project = lower("BETA-PROD")
}

resource "google_storage_bucket" "b" {
  name    = "b"
  project = local.project
}
`})
	engine, err := policy.New(ctx, policies.FS(), policy.Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	lint := func(settle bool) (*policy.Finding, int64) {
		tree, err := engine.OpenTree(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		defer tree.Close()
		if _, err := tree.Dir(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if settle {
			tree.Settle(dir)
		}
		got, err := tree.LintProject(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return find(got, "TFPR005", "google_storage_bucket.b"), tree.FilesParsed()
	}
	want, parsed := lint(false)
	if want == nil || !strings.Contains(want.Message, `"alpha-dev"`) || parsed != 1 {
		t.Fatalf("without Settle: %+v, %d files parsed", want, parsed)
	}
	got, parsed := lint(true)
	if got == nil || *got != *want {
		t.Errorf("after Settle: %+v, want %+v", got, want)
	}
	if parsed != 2 {
		t.Errorf("after Settle: %d files parsed, want 2 (the dir read again for its part)", parsed)
	}
}
