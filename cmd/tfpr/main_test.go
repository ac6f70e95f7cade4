package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/store"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExampleMonorepoLint(t *testing.T) {
	code, out, _ := runCLI("lint", "../../testdata/monorepo")
	if code != 1 {
		t.Fatalf("lint of the example monorepo exited %d, want 1 (reports/dev breaks policy):\n%s", code, out)
	}
	for _, want := range []string{"microservices/reports/dev/main.tf:5: [deny] TFPR001", "microservices/reports/dev/main.tf:24: [deny] TFPR007"} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "orders/dev") {
		t.Errorf("orders/dev follows the policies but was flagged:\n%s", out)
	}
}

// The platform's own modules must pass the platform's policies when a
// service project calls them.
func TestPlatformModulesPassThePolicies(t *testing.T) {
	root := t.TempDir()
	entries, err := os.ReadDir("../../modules")
	if err != nil {
		t.Fatal(err)
	}
	var calls strings.Builder
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		copyDir(t, filepath.Join("../../modules", e.Name()), filepath.Join(root, "modules", e.Name()))
		calls.WriteString(`module "` + e.Name() + `" {
  source  = "../../../modules/` + e.Name() + `"
  service = "orders"
  env     = "dev"
  owner   = "team-orders"
  name    = "x"
}
`)
	}
	proj := filepath.Join(root, "microservices/orders/dev")
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n\n"+calls.String()), 0o644)
	if code, out, errOut := runCLI("lint", root); code != 0 {
		t.Fatalf("platform modules fail the policies (exit %d):\n%s%s", code, out, errOut)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	os.MkdirAll(to, 0o755)
	files, _ := os.ReadDir(from)
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(from, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, f.Name()), raw, 0o644)
	}
}

func TestCommands(t *testing.T) {
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "tfpr ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := runCLI("deploy-everything"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI("server", "-state-bucket"); code != 2 || errOut == "" {
		t.Errorf("bad server flags: %d %q", code, errOut)
	}
}

func TestAuditListsApplies(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := st.CreateRun(context.Background(), store.Run{Kind: "apply", Repo: "acme/infra", Project: "microservices/alpha/dev", PR: 12,
		SHA: "0123456789abcdef0123456789abcdef01234567", MergedBy: "carol", ApprovedBy: "dave"})
	run, _ := st.GetRun(context.Background(), id)
	run.Status, run.PlanHash, run.Summary = store.StatusSucceeded, "feedbeef00112233", "applied"
	st.FinishApply(context.Background(), run, nil)
	st.Close()
	code, out, errOut := runCLI("audit", "-data-dir", dir)
	if code != 0 {
		t.Fatalf("audit exited %d: %s", code, errOut)
	}
	for _, want := range []string{"microservices/alpha/dev", "0123456789ab", "#12", "carol", "dave", "feedbeef0011", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := runCLI("audit", "-data-dir", t.TempDir()); code != 1 || !strings.Contains(errOut, "no store") {
		t.Errorf("audit of an empty dir: %d %q", code, errOut)
	}
}
