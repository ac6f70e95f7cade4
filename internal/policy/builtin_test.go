package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

// builtinCases are the lint trees of the engine's own denials. Native files
// carry `# expect:` markers; json lists what the .tf.json files of the bad
// tree must produce, since JSON has no comments.
var builtinCases = []struct {
	name string
	rule string
	json []string
}{
	{name: "credential_config", rule: policy.RuleCredentialConfig, json: []string{
		projectDir + "/creds.tf.json:4 " + policy.RuleCredentialConfig,
		projectDir + "/creds.tf.json:13 " + policy.RuleCredentialConfig,
	}},
	{name: "credential_data_source", rule: policy.RuleCredentialDataSource, json: []string{
		projectDir + "/tokens.tf.json:4 " + policy.RuleCredentialDataSource,
		projectDir + "/tokens.tf.json:11 " + policy.RuleCredentialDataSource,
		projectDir + "/tokens.tf.json:18 " + policy.RuleCredentialDataSource,
	}},
	{name: "provisioner", rule: policy.RuleProvisioner, json: []string{
		projectDir + "/run.tf.json:6 " + policy.RuleProvisioner,
		projectDir + "/run.tf.json:7 " + policy.RuleProvisioner,
		projectDir + "/run.tf.json:15 " + policy.RuleProvisioner,
	}},
	{name: "state_backend", rule: policy.RuleStateBackend, json: []string{
		projectDir + "/cloud.tf.json:3 " + policy.RuleStateBackend,
		projectDir + "/zz.tf.json:4 " + policy.RuleStateBackend,
		projectDir + "/zz.tf.json:5 " + policy.RuleStateBackend,
	}},
	{name: "state_encryption", rule: policy.RuleStateEncryption, json: []string{
		projectDir + "/enc.tf.json:8 " + policy.RuleStateEncryption,
	}},
}

// lintCase lints the bad or good tree of a case.
func lintCase(t *testing.T, e *policy.Engine, name, kind string) []policy.Finding {
	t.Helper()
	dir := filepath.Join("testdata", "cases", name, kind)
	got, err := e.LintProject(context.Background(), abs(t, dir), projectDir, localModules(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBuiltinDenials(t *testing.T) {
	e := newEngine(t)
	for _, tc := range builtinCases {
		t.Run(tc.name, func(t *testing.T) {
			want := append(markers(t, filepath.Join("testdata", "cases", tc.name, "bad")), tc.json...)
			slices.Sort(want)
			got := lintCase(t, e, tc.name, "bad")
			if d := located(got, tc.rule); !slices.Equal(d, want) {
				t.Errorf("findings for %s:\n got %q\nwant %q\nall: %+v", tc.rule, d, want, got)
			}
			for _, f := range got {
				if f.Rule == tc.rule && (f.Severity != policy.SeverityDeny || f.Title == "" || f.Message == "") {
					t.Errorf("finding without deny, title or message: %+v", f)
				}
			}
			if good := lintCase(t, e, tc.name, "good"); len(good) != 0 {
				t.Errorf("good fixture has findings: %+v", good)
			}
		})
	}
}

// TestBuiltinDenialsOutliveThePolicyDir: a policy directory of its own,
// without any of the default rules, still gets every engine denial, and
// no tfpr:ignore in the PR lifts one.
func TestBuiltinDenialsOutliveThePolicyDir(t *testing.T) {
	custom, err := policy.New(context.Background(), policyFS(map[string]string{
		"noop.rego": withMeta("NOOP1", "package tfpr.hcl.noop\n\ndeny contains \"never\" if false\n"),
	}), policy.Options{Params: map[string]any{"suppressible_rules": []any{policy.RuleProvisioner, policy.RuleCredentialConfig}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range builtinCases {
		got := lintCase(t, custom, tc.name, "bad")
		want := append(markers(t, filepath.Join("testdata", "cases", tc.name, "bad")), tc.json...)
		if d := located(got, tc.rule); len(d) != len(want) {
			t.Errorf("%s: a policy dir without the default rules got %q, want %q", tc.name, d, want)
		}
		if !policy.Blocking(got) {
			t.Errorf("%s: does not block with a custom policy dir: %+v", tc.name, got)
		}
	}

	root := t.TempDir()
	writeTree(t, root, map[string]string{projectDir + "/main.tf": `terraform {
  backend "gcs" {}
}

resource "terraform_data" "x" {
  # tfpr:ignore provisioner reviewed, it only prints
  provisioner "local-exec" {
    command = "env"
  }
}

provider "google" {
  access_token = "x" # tfpr:ignore credential-config reviewed
}
`})
	got, err := custom.LintProject(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := located(got, ""); !slices.Equal(d, []string{projectDir + "/main.tf:13 " + policy.RuleCredentialConfig, projectDir + "/main.tf:7 " + policy.RuleProvisioner}) || !policy.Blocking(got) {
		t.Errorf("tfpr:ignore comments lifted engine denials: %+v", got)
	}
}

// TestBuiltinParamsAllowByName: the operator allows one data source and one
// provisioner by name; everything else stays denied.
func TestBuiltinParamsAllowByName(t *testing.T) {
	e, err := policy.New(context.Background(), policyFSFromDefaults(t), policy.Options{Params: map[string]any{
		"allowed_data_sources": []any{"google_client_config"},
		"allowed_provisioners": []string{"local-exec"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := located(lintCase(t, e, "credential_data_source", "bad"), policy.RuleCredentialDataSource)
	if slices.Contains(got, projectDir+"/main.tf:5 "+policy.RuleCredentialDataSource) || len(got) != 6 {
		t.Errorf("allowed_data_sources [google_client_config]: got %q, want every other token source denied and google_client_config allowed", got)
	}
	got = located(lintCase(t, e, "provisioner", "bad"), policy.RuleProvisioner)
	want := []string{
		"modules/m/main.tf:2 " + policy.RuleProvisioner,         // file
		projectDir + "/main.tf:9 " + policy.RuleProvisioner,     // remote-exec
		projectDir + "/run.tf.json:7 " + policy.RuleProvisioner, // remote-exec
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("allowed_provisioners [local-exec]: got %q, want %q", got, want)
	}

	for _, bad := range []map[string]any{
		{"allowed_provisioners": "local-exec"},
		{"allowed_data_sources": []any{"google_client_config", 3}},
	} {
		_, err := policy.New(context.Background(), policyFSFromDefaults(t), policy.Options{Params: bad})
		if err == nil || !strings.Contains(err.Error(), "must be a list of strings") {
			t.Errorf("params %v: err = %v, want a clear error", bad, err)
		}
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
