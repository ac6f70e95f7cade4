package policy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
)

func TestCheckPlanStatefulDelete(t *testing.T) {
	e := newEngine(t)
	planJSON, err := os.ReadFile("testdata/plan/bucket_delete.json")
	if err != nil {
		t.Fatal(err)
	}
	root := abs(t, "testdata/plan")
	got, err := e.CheckPlan(context.Background(), root, projectDir, planJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		address, file string
		line          int
	}{
		// Deleted from config: nothing to point at but the project.
		{"google_storage_bucket.old", projectDir, 0},
		{"google_storage_bucket.data", projectDir + "/main.tf", 5},
		{"module.store.google_spanner_instance.main", "modules/store/main.tf", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %d TFPR101 findings", got, len(want))
	}
	for i, w := range want {
		f := got[i]
		if f.Rule != "TFPR101" || f.Address != w.address || f.File != w.file || f.Line != w.line || f.Suppressed {
			t.Errorf("finding %d = %+v, want TFPR101 %s at %s:%d", i, f, w.address, w.file, w.line)
		}
	}
	if !policy.Blocking(got) {
		t.Error("unapproved stateful delete must block")
	}

	approved, err := e.CheckPlan(context.Background(), root, projectDir, planJSON, []string{"TFPR101"})
	if err != nil {
		t.Fatal(err)
	}
	if len(approved) != len(want) {
		t.Fatalf("approval dropped findings: %+v", approved)
	}
	for _, f := range approved {
		if !f.Suppressed || f.SuppressReason != "approved" {
			t.Errorf("approved finding not marked: %+v", f)
		}
	}
	if policy.Blocking(approved) {
		t.Error("approved plan still blocks")
	}
}

func TestCheckPlanRejectsGarbage(t *testing.T) {
	_, err := newEngine(t).CheckPlan(context.Background(), abs(t, "testdata/plan"), projectDir, []byte("not json"), nil)
	if err == nil {
		t.Fatal("CheckPlan accepted invalid plan JSON")
	}
}

func terraformBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TFPR_TERRAFORM_BIN"); p != "" {
		return p
	}
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no terraform or tofu binary: set TFPR_TERRAFORM_BIN")
	return ""
}

// TestCheckPlanRealTerraform runs the plan stage on real `terraform show
// -json` output, using the built-in terraform_data resource so no provider
// download is needed.
func TestCheckPlanRealTerraform(t *testing.T) {
	bin := terraformBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	dir := filepath.Join(root, projectDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	main := `variable "n" {
  type = number
}

resource "terraform_data" "d" {
  count = var.n
  input = count.index
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	tf := terraformIn(ctx, t, bin, dir)
	tf("init", "-no-color")
	tf("apply", "-auto-approve", "-no-color", "-var", "n=3")
	tf("plan", "-no-color", "-var", "n=0", "-out", "destroy.tfplan")
	planJSON := tf("show", "-json", "destroy.tfplan")

	e, err := policy.New(ctx, policyFSFromDefaults(t), policy.Options{Params: map[string]any{"max_destroy": 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.CheckPlan(ctx, root, projectDir, planJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, f := range got {
		rules = append(rules, f.Rule)
	}
	if !slices.Equal(rules, []string{"TFPR102"}) || got[0].File != projectDir || !policy.Blocking(got) {
		t.Errorf("got %+v, want one blocking TFPR102 for 3 destroys over a limit of 2", got)
	}

	// Within the limit the same plan passes.
	got, err = newEngine(t).CheckPlan(ctx, root, projectDir, planJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("3 destroys under the default limit of 20: got %+v", got)
	}
}

// terraformIn returns a runner of real terraform commands in dir that
// fails the test with terraform's output when one fails.
func terraformIn(ctx context.Context, t *testing.T, bin, dir string) func(args ...string) []byte {
	return func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("terraform %v: %v\n%s%s", args, err, out, stderr)
		}
		return out
	}
}
