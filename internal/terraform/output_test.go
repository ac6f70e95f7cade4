package terraform_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/testenv"
)

// watcher collects what Options.Output and Options.OnExit are given.
type watcher struct {
	mu    sync.Mutex
	out   bytes.Buffer
	exits []string
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (w *watcher) exit(cmd string, code int, _ time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.exits = append(w.exits, fmt.Sprintf("%s=%d", cmd, code))
}

func (w *watcher) text() (string, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String(), append([]string(nil), w.exits...)
}

// Terraform's output reaches Output as terraform prints it, init, plan and
// apply, but not the plan's JSON; every command's exit is reported with
// its code.
func TestOutputIsWatchedAndExitsAreReported(t *testing.T) {
	gcs := testenv.FakeGCS(t, "state")
	w := &watcher{}
	ex, err := terraform.New(terraform.Options{Bin: testenv.Terraform(t), Env: gcs.TerraformEnv(), Output: w, OnExit: w.exit})
	if err != nil {
		t.Fatal(err)
	}
	be := terraform.Backend{Bucket: "state", Prefix: "p"}
	dir := project(t, `resource "terraform_data" "x" { input = "a" }`)
	p, err := ex.Plan(ctx(t), dir, be, "tfpr.tfplan")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Apply(ctx(t), dir, be, p.File); err != nil {
		t.Fatal(err)
	}
	text, exits := w.text()
	for _, want := range []string{"Initializing the backend", "terraform_data.x will be created", "Plan: 1 to add", "Apply complete! Resources: 1 added"} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"format_version"`) {
		t.Error("the plan's JSON went to the output")
	}
	// A plan with changes exits 2 under -detailed-exitcode: a success.
	if got, want := strings.Join(exits, " "), "init=0 plan=0 show -json=0 init=0 apply=0"; got != want {
		t.Errorf("exits = %s, want %s", got, want)
	}

	bad := &watcher{}
	ex, err = terraform.New(terraform.Options{Bin: testenv.Terraform(t), Env: gcs.TerraformEnv(), Output: bad, OnExit: bad.exit})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Plan(ctx(t), project(t, `resource "terraform_data" "x" { input = }`), be, "tfpr.tfplan"); err == nil {
		t.Fatal("a broken configuration planned")
	}
	text, exits = bad.text()
	if !strings.Contains(text, "Error") {
		t.Errorf("the failed run's output lacks terraform's error:\n%s", text)
	}
	if got := strings.Join(exits, " "); got != "init=1" {
		t.Errorf("exits of a broken configuration = %s, want init=1", got)
	}
}
