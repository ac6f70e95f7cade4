package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
)

// TestBuiltinPlanProvisioners plans, with real terraform, a project whose
// module comes from outside the checkout, as a registry module would: lint
// never read it, but its provisioner runs at apply, so the plan stage must
// deny it (and the project's own one, placed at its file and line).
func TestBuiltinPlanProvisioners(t *testing.T) {
	bin := terraformBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	writeTree(t, base, map[string]string{
		"repo/" + projectDir + "/main.tf": `resource "terraform_data" "own" {
  input = 1
  provisioner "local-exec" {
    command = "true"
  }
}

module "ext" {
  source = "../../../../ext"
}
`,
		"ext/main.tf": `resource "terraform_data" "e" {
  provisioner "file" {
    source      = "a"
    destination = "/tmp/b"
  }
}
`,
	})
	dir := filepath.Join(root, projectDir)
	tf := terraformIn(ctx, t, bin, dir)
	tf("init", "-no-color")
	tf("plan", "-no-color", "-out", "p.tfplan")
	planJSON := tf("show", "-json", "p.tfplan")

	got, err := newEngine(t).CheckPlan(ctx, root, projectDir, planJSON, []string{policy.RuleProvisioner})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		projectDir + "/main.tf:3 " + policy.RuleProvisioner,
		projectDir + ":0 " + policy.RuleProvisioner,
	}
	if d := located(got, ""); !slices.Equal(d, want) || !policy.Blocking(got) {
		t.Errorf("got %q (%+v), want %q, blocking even when approved", d, got, want)
	}
	for _, f := range got {
		if f.File == projectDir && f.Address != "module.ext.terraform_data.e" {
			t.Errorf("finding outside the checkout does not name its plan address: %+v", f)
		}
	}

	allow, err := policy.New(ctx, policyFSFromDefaults(t), policy.Options{Params: map[string]any{"allowed_provisioners": []any{"local-exec", "file"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := allow.CheckPlan(ctx, root, projectDir, planJSON, nil); err != nil || len(got) != 0 {
		t.Errorf("allowed provisioners still denied: %+v, %v", got, err)
	}
}

// TestBuiltinPlanCredentials judges the configuration of a plan JSON whose
// providers and data sources come from a module lint never saw.
func TestBuiltinPlanCredentials(t *testing.T) {
	planJSON, err := os.ReadFile("testdata/plan/credentials.json")
	if err != nil {
		t.Fatal(err)
	}
	custom, err := policy.New(context.Background(), policyFS(map[string]string{
		"noop.rego": withMeta("NOOP1", "package tfpr.plan.noop\n\ndeny contains \"never\" if false\n"),
	}), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := custom.CheckPlan(context.Background(), abs(t, "testdata/plan"), projectDir, planJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ rule, address string }
	var keys []key
	for _, f := range got {
		keys = append(keys, key{f.Rule, f.Address})
	}
	want := []key{
		{policy.RuleCredentialConfig, "module.reg.data.terraform_remote_state.beta"},
		{policy.RuleCredentialConfig, "module.reg.provider.google"},
		{policy.RuleCredentialConfig, "module.reg.provider.google"},
		{policy.RuleCredentialDataSource, "module.reg.data.google_client_config.me"},
		{policy.RuleCredentialDataSource, "module.reg.data.google_service_account_access_token.t"},
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.rule != b.rule {
			return strings.Compare(a.rule, b.rule)
		}
		return strings.Compare(a.address, b.address)
	})
	if !slices.Equal(keys, want) || !policy.Blocking(got) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
