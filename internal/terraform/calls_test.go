package terraform_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/testenv"
)

// countingTerraform is a wrapper in front of the real terraform that logs
// each command (its first two arguments) to the returned file.
func countingTerraform(t *testing.T) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	bin, log = filepath.Join(dir, "terraform"), filepath.Join(dir, "calls.log")
	script := "#!/bin/sh\necho \"$1 $2\" >> '" + log + "'\nexec '" + testenv.Terraform(t) + "' \"$@\"\n"
	testenv.WriteScript(t, bin, script)
	return bin, log
}

// commands reads the log as command names, and empties it.
func commands(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(log)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == "show" && len(f) > 1 && f[1] == "-json":
			out = append(out, "show -json")
		default:
			out = append(out, f[0])
		}
	}
	return out
}

// TestPlanRunsThreeCommands checks that a plan is init, plan and show -json,
// that `version` runs once per binary (again only when the binary changes),
// and that the plan text is plan's own output without the server's plan
// file path.
func TestPlanRunsThreeCommands(t *testing.T) {
	t.Parallel()
	gcs := testenv.FakeGCS(t, "tfpr-calls")
	bin, log := countingTerraform(t)
	ex, err := terraform.New(terraform.Options{Bin: bin, Env: gcs.TerraformEnv()})
	if err != nil {
		t.Fatal(err)
	}
	be := terraform.Backend{Bucket: "tfpr-calls", Prefix: "calls"}
	dir := project(t, `resource "terraform_data" "x" { input = "v1" }`+"\n")

	p, err := ex.Plan(ctx(t), dir, be, "tfpr.tfplan")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if got, want := strings.Join(commands(t, log), ", "), "version, init, plan, show -json"; got != want {
		t.Errorf("first plan ran %s, want %s", got, want)
	}
	if !p.HasChanges || p.Add != 1 || len(p.JSON) == 0 || !strings.Contains(p.Text, "terraform_data.x will be created") ||
		!strings.Contains(p.Text, "Plan: 1 to add, 0 to change, 0 to destroy") {
		t.Errorf("plan result incomplete: HasChanges=%v Add=%d JSON %d bytes, Text:\n%s", p.HasChanges, p.Add, len(p.JSON), p.Text)
	}
	if strings.Contains(p.Text, p.File) || strings.Contains(p.Text, "Saved the plan") {
		t.Errorf("Text names the plan file on the server:\n%s", p.Text)
	}

	if _, err := ex.Plan(ctx(t), dir, be, "tfpr.tfplan"); err != nil {
		t.Fatalf("second plan: %v", err)
	}
	if got, want := strings.Join(commands(t, log), ", "), "init, plan, show -json"; got != want {
		t.Errorf("second plan ran %s, want %s", got, want)
	}

	// A binary replaced in place (an upgrade) is asked again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Plan(ctx(t), dir, be, "tfpr.tfplan"); err != nil {
		t.Fatalf("plan after the binary changed: %v", err)
	}
	if got, want := strings.Join(commands(t, log), ", "), "version, init, plan, show -json"; got != want {
		t.Errorf("plan after the binary changed ran %s, want %s", got, want)
	}
}

// TestKnownBinaryIsNotAskedAgain checks that a binary identified by another
// process (the server, for its workers) is trusted only while it is the
// same file: a new process plans with three commands, a binary changed
// since, or one identified with a version too old, is asked again.
func TestKnownBinaryIsNotAskedAgain(t *testing.T) {
	t.Parallel()
	gcs := testenv.FakeGCS(t, "tfpr-known")
	bin, log := countingTerraform(t)
	known, err := terraform.Identify(ctx(t), terraform.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(commands(t, log), ", "); got != "version" {
		t.Fatalf("Identify ran %q, want version", got)
	}
	if !strings.HasPrefix(known.Path, "/") || known.Size == 0 || known.ModTime == 0 || known.Version == "" {
		t.Fatalf("Identify = %+v, want path, size, mtime and version", known)
	}
	be := terraform.Backend{Bucket: "tfpr-known", Prefix: "known"}
	dir := project(t, `resource "terraform_data" "x" { input = "v1" }`+"\n")
	plan := func(k terraform.Binary) string {
		t.Helper()
		ex, err := terraform.New(terraform.Options{Bin: bin, Env: gcs.TerraformEnv(), Known: []terraform.Binary{k}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ex.Plan(ctx(t), dir, be, "tfpr.tfplan"); err != nil {
			t.Fatalf("plan: %v", err)
		}
		return strings.Join(commands(t, log), ", ")
	}
	if got, want := plan(known), "init, plan, show -json"; got != want {
		t.Errorf("plan with the binary known ran %s, want %s", got, want)
	}
	old := known
	old.Version = "0.15.5"
	if got, want := plan(old), "version, init, plan, show -json"; got != want {
		t.Errorf("plan with the binary known as too old ran %s, want %s", got, want)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	if got, want := plan(known), "version, init, plan, show -json"; got != want {
		t.Errorf("plan after the binary changed ran %s, want %s", got, want)
	}
}

// A binary replaced while its version is asked must not be recorded under
// the new file's size and mtime with the old file's version: a worker would
// then trust that version for a program nobody asked.
func TestIdentifyDescribesTheFileItAsked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "terraform")
	tf := testenv.Terraform(t)
	// The replacement differs in length, so in size.
	next := "#!/bin/sh\n# a different build, installed while the first was asked\nexec '" + tf + "' \"$@\"\n"
	testenv.WriteScript(t, filepath.Join(dir, "next"), next)
	first := "#!/bin/sh\nmv '" + filepath.Join(dir, "next") + "' '" + bin + "'\nexec '" + tf + "' \"$@\"\n"
	testenv.WriteScript(t, bin, first)
	known, err := terraform.Identify(ctx(t), terraform.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	if known.Size != int64(len(first)) {
		t.Errorf("Identify recorded size %d, the replacement's (%d); want the asked file's %d", known.Size, len(next), len(first))
	}
}
