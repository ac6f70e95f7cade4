package terraform_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/testenv"
)

const backendBlock = "terraform {\n  backend \"gcs\" {}\n}\n"

// fixture is one fake GCS bucket plus an Exec whose terraform talks to it.
type fixture struct {
	gcs  *testenv.GCS
	exec *terraform.Exec
	be   terraform.Backend
}

func newFixture(t *testing.T, bucket string) *fixture {
	t.Helper()
	gcs := testenv.FakeGCS(t, bucket)
	ex, err := terraform.New(terraform.Options{Bin: testenv.Terraform(t), Env: gcs.TerraformEnv()})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{gcs: gcs, exec: ex, be: terraform.Backend{Bucket: bucket, Prefix: "projects/net/"}}
}

// project writes a fresh project directory holding the gcs backend block and
// body, so every plan below reads state from GCS rather than from a local
// leftover.
func project(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(backendBlock+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func (f *fixture) plan(t *testing.T, body string) *terraform.Plan {
	t.Helper()
	dir := project(t, body)
	p, err := f.exec.Plan(ctx(t), dir, f.be, "tfpr.tfplan")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func (f *fixture) apply(t *testing.T, body string) string {
	t.Helper()
	dir := project(t, body)
	p, err := f.exec.Plan(ctx(t), dir, f.be, "tfpr.tfplan")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	out, err := f.exec.Apply(ctx(t), dir, f.be, p.File)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return out
}

// stateResources lists "type.name" of every resource in the state object.
func (f *fixture) stateResources(t *testing.T) []string {
	t.Helper()
	raw := f.gcs.Object(t, terraform.StateObject(f.be.Prefix))
	if raw == nil {
		return nil
	}
	var st struct {
		Resources []struct {
			Type, Name string
		}
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("state object is not JSON: %v\n%s", err, raw)
	}
	var out []string
	for _, r := range st.Resources {
		out = append(out, r.Type+"."+r.Name)
	}
	return out
}

func TestPlanApplyRoundTripThroughGCS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "tfpr-roundtrip")
	const cfg = `resource "terraform_data" "x" { input = "v1" }` + "\n"

	dir := project(t, cfg)
	p, err := f.exec.Plan(ctx(t), dir, f.be, "tfpr.tfplan")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if want := filepath.Join(dir, "tfpr.tfplan"); p.File != want {
		t.Errorf("File = %q, want %q", p.File, want)
	}
	if _, err := os.Stat(p.File); err != nil {
		t.Errorf("plan file: %v", err)
	}
	if !p.HasChanges || p.Add != 1 || p.Change != 0 || p.Destroy != 0 {
		t.Errorf("HasChanges=%v Add=%d Change=%d Destroy=%d, want true 1 0 0", p.HasChanges, p.Add, p.Change, p.Destroy)
	}
	wantChanges := []terraform.ResourceChange{{Address: "terraform_data.x", Actions: []string{"create"}}}
	if !changesEqual(p.Changes, wantChanges) {
		t.Errorf("Changes = %+v, want %+v", p.Changes, wantChanges)
	}
	if !strings.Contains(p.Text, "terraform_data.x will be created") || !strings.Contains(p.Text, "Plan: 1 to add, 0 to change, 0 to destroy") {
		t.Errorf("Text lacks the create and summary lines:\n%s", p.Text)
	}
	if strings.Contains(p.Text, "\x1b[") {
		t.Errorf("Text has color escapes:\n%q", p.Text)
	}
	var js struct {
		ResourceChanges []struct{ Address string } `json:"resource_changes"`
	}
	if err := json.Unmarshal(p.JSON, &js); err != nil || len(js.ResourceChanges) != 1 || js.ResourceChanges[0].Address != "terraform_data.x" {
		t.Errorf("JSON resource_changes = %+v (err %v)", js.ResourceChanges, err)
	}
	if got := f.stateResources(t); len(got) != 0 {
		t.Fatalf("state before apply has %v", got)
	}

	out, err := f.exec.Apply(ctx(t), dir, f.be, p.File)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !strings.Contains(out, "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.") {
		t.Errorf("apply output lacks the summary:\n%s", out)
	}
	if got := f.stateResources(t); !slices.Equal(got, []string{"terraform_data.x"}) {
		t.Errorf("state at %s has %v, want [terraform_data.x]", terraform.StateObject(f.be.Prefix), got)
	}
	if lock := f.gcs.Object(t, terraform.LockObject(f.be.Prefix)); lock != nil {
		t.Errorf("lock object left behind after apply: %s", lock)
	}

	// A new directory has no local trace of the apply, so "no changes" can
	// only come from the state stored in GCS.
	again := f.plan(t, cfg)
	if again.HasChanges || again.Add+again.Change+again.Destroy != 0 || len(again.Changes) != 0 {
		t.Errorf("second plan: HasChanges=%v counts=%d/%d/%d changes=%+v, want no changes",
			again.HasChanges, again.Add, again.Change, again.Destroy, again.Changes)
	}
}

func TestPlanCountsLikeTerraform(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, before, after  string
		add, change, destroy int
		wantChanges          []terraform.ResourceChange
		wantSummary          string
	}{
		{
			name:        "update",
			before:      `resource "terraform_data" "x" { input = "v1" }`,
			after:       `resource "terraform_data" "x" { input = "v2" }`,
			change:      1,
			wantChanges: []terraform.ResourceChange{{Address: "terraform_data.x", Actions: []string{"update"}}},
			wantSummary: "Plan: 0 to add, 1 to change, 0 to destroy",
		},
		{
			name:        "replace counts as add and destroy",
			before:      `resource "terraform_data" "x" { triggers_replace = "v1" }`,
			after:       `resource "terraform_data" "x" { triggers_replace = "v2" }`,
			add:         1,
			destroy:     1,
			wantChanges: []terraform.ResourceChange{{Address: "terraform_data.x", Actions: []string{"delete", "create"}}},
			wantSummary: "Plan: 1 to add, 0 to change, 1 to destroy",
		},
		{
			name:        "destroy and unchanged neighbour",
			before:      `resource "terraform_data" "x" {}` + "\n" + `resource "terraform_data" "y" {}`,
			after:       `resource "terraform_data" "y" {}`,
			destroy:     1,
			wantChanges: []terraform.ResourceChange{{Address: "terraform_data.x", Actions: []string{"delete"}}},
			wantSummary: "Plan: 0 to add, 0 to change, 1 to destroy",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "tfpr-counts-"+strconv.Itoa(i))
			f.apply(t, tt.before+"\n")
			p := f.plan(t, tt.after+"\n")
			if !p.HasChanges || p.Add != tt.add || p.Change != tt.change || p.Destroy != tt.destroy || p.Import != 0 {
				t.Errorf("HasChanges=%v add/change/destroy/import = %d/%d/%d/%d, want true %d/%d/%d/0",
					p.HasChanges, p.Add, p.Change, p.Destroy, p.Import, tt.add, tt.change, tt.destroy)
			}
			if !changesEqual(p.Changes, tt.wantChanges) {
				t.Errorf("Changes = %+v, want %+v", p.Changes, tt.wantChanges)
			}
			if !strings.Contains(p.Text, tt.wantSummary) {
				t.Errorf("terraform's own summary disagrees, want %q in:\n%s", tt.wantSummary, p.Text)
			}
		})
	}
}

func TestApplyStalePlan(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "tfpr-stale")
	f.apply(t, `resource "terraform_data" "x" { input = "v1" }`+"\n")

	staleDir := project(t, `resource "terraform_data" "x" { input = "v2" }`+"\n")
	stale, err := f.exec.Plan(ctx(t), staleDir, f.be, filepath.Join(t.TempDir(), "v2.tfplan"))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	// Another change lands first and moves the state on.
	f.apply(t, `resource "terraform_data" "x" { input = "v3" }`+"\n")

	_, err = f.exec.Apply(ctx(t), staleDir, f.be, stale.File)
	if !errors.Is(err, terraform.ErrStalePlan) {
		t.Fatalf("apply of stale plan: err = %v, want ErrStalePlan", err)
	}
	var te *terraform.Error
	if !errors.As(err, &te) || te.Command != "apply" || te.Dir != staleDir {
		t.Errorf("error %v: want *terraform.Error for apply in %s", err, staleDir)
	}
	if !strings.Contains(err.Error(), "Saved plan is stale") {
		t.Errorf("error lacks terraform's diagnostic: %v", err)
	}
	if state := string(f.gcs.Object(t, terraform.StateObject(f.be.Prefix))); !strings.Contains(state, `"v3"`) || strings.Contains(state, `"v2"`) {
		t.Errorf("stale apply changed the state:\n%s", state)
	}
}

func TestPlanReportsConfigErrorsWithFileAndLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "tfpr-syntax")
	dir := project(t, "resource \"terraform_data\" \"x\" {\n  input = \n}\n")

	_, err := f.exec.Plan(ctx(t), dir, f.be, "tfpr.tfplan")
	if err == nil {
		t.Fatal("plan of invalid configuration succeeded")
	}
	var te *terraform.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %T %v: want *terraform.Error", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"terraform " + te.Command + " in " + dir, "main.tf line 5"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.ContainsAny(msg, "╷│╵") {
		t.Errorf("error keeps terraform's box drawing:\n%s", msg)
	}
	if errors.Is(err, terraform.ErrStalePlan) {
		t.Errorf("config error matches ErrStalePlan")
	}
}

func TestForceUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "tfpr-lock")
	const cfg = `resource "terraform_data" "x" {}` + "\n"
	// The first init writes the empty state; terraform cannot load, and so
	// cannot unlock, a state that was never written.
	f.plan(t, cfg)
	// A lock left by a crashed run: the gcs backend's lock ID is the lock
	// object's generation.
	f.gcs.Server.CreateObject(fakestorage.Object{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: f.gcs.Bucket, Name: terraform.LockObject(f.be.Prefix)},
		Content:     []byte(`{"ID":"","Operation":"OperationTypeApply","Who":"crashed@runner","Version":"1.11.4","Created":"2025-01-01T00:00:00Z","Path":""}`),
	})
	lock, err := f.gcs.Server.GetObject(f.gcs.Bucket, terraform.LockObject(f.be.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(lock.Generation, 10)

	// Unlocked plans (tfpr's default for PR plans) read state past a lock;
	// a locking Exec, as applies use, is stopped by it.
	dir := project(t, cfg)
	if _, err := f.exec.Plan(ctx(t), dir, f.be, "tfpr.tfplan"); err != nil {
		t.Fatalf("an unlocked plan must not wait for the state lock: %v", err)
	}
	locking, err := terraform.New(terraform.Options{Bin: testenv.Terraform(t), Env: f.gcs.TerraformEnv(), LockPlans: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = locking.Plan(ctx(t), dir, f.be, "tfpr.tfplan")
	if err == nil || !strings.Contains(err.Error(), "Lock Info") || !strings.Contains(err.Error(), id) {
		t.Fatalf("plan under a held lock: err = %v, want a lock error naming ID %s", err, id)
	}

	// A wrong ID is not exercised: fakestorage ignores the ifGenerationMatch
	// condition the gcs backend deletes the lock with.
	if err := f.exec.ForceUnlock(ctx(t), dir, f.be, "-force"); err == nil || !strings.Contains(err.Error(), "invalid lock ID") {
		t.Errorf("force-unlock with a flag as ID: err = %v, want invalid lock ID", err)
	}
	if err := f.exec.ForceUnlock(ctx(t), dir, f.be, id); err != nil {
		t.Fatalf("force-unlock: %v", err)
	}
	if got := f.gcs.Object(t, terraform.LockObject(f.be.Prefix)); got != nil {
		t.Fatalf("lock object still present: %s", got)
	}
	if p := f.plan(t, cfg); p.Add != 1 {
		t.Errorf("plan after unlock: Add = %d, want 1", p.Add)
	}
}

func TestPlanHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "tfpr-cancel")
	c, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.exec.Plan(c, project(t, `resource "terraform_data" "x" {}`), f.be, "tfpr.tfplan")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	bin := testenv.Terraform(t)
	ex, err := terraform.New(terraform.Options{Bin: bin, Env: map[string]string{"PATH": "/usr/bin:/bin", "HOME": t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ex.Version(ctx(t))
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(v) {
		t.Fatalf("version %q is not a version number", v)
	}
	out, _ := exec.Command(bin, "version").CombinedOutput()
	if !strings.Contains(string(out), "v"+v) {
		t.Errorf("version %q not in `%s version` output:\n%s", v, bin, out)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    terraform.Options
		wantErr string
	}{
		{name: "no binary", opts: terraform.Options{}, wantErr: "Bin is empty"},
		{name: "TF_VAR", opts: terraform.Options{Bin: "terraform", Env: map[string]string{"TF_VAR_token": "x"}}, wantErr: "TF_VAR_token"},
		{name: "TF_CLI_ARGS", opts: terraform.Options{Bin: "terraform", Env: map[string]string{"TF_CLI_ARGS": "-lock=false"}}, wantErr: "TF_CLI_ARGS"},
		{name: "TF_CLI_ARGS_plan", opts: terraform.Options{Bin: "terraform", Env: map[string]string{"TF_CLI_ARGS_plan": "-refresh=false"}}, wantErr: "TF_CLI_ARGS_plan"},
		{name: "TF_WORKSPACE", opts: terraform.Options{Bin: "terraform", Env: map[string]string{"TF_WORKSPACE": "prod"}}, wantErr: "TF_WORKSPACE"},
		{name: "logging and automation keys map to tfexec options", opts: terraform.Options{Bin: "terraform", Env: map[string]string{
			"TF_LOG": "DEBUG", "TF_LOG_PATH": "/tmp/tf.log", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "TF_APPEND_USER_AGENT": "tfpr",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := terraform.New(tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestObjectNamesMatchTheGCSBackend(t *testing.T) {
	t.Parallel()
	tests := []struct{ prefix, state, lock string }{
		{"", "default.tfstate", "default.tflock"},
		{"projects/net", "projects/net/default.tfstate", "projects/net/default.tflock"},
		{"/projects/net/", "projects/net/default.tfstate", "projects/net/default.tflock"},
	}
	for _, tt := range tests {
		if got := terraform.StateObject(tt.prefix); got != tt.state {
			t.Errorf("StateObject(%q) = %q, want %q", tt.prefix, got, tt.state)
		}
		if got := terraform.LockObject(tt.prefix); got != tt.lock {
			t.Errorf("LockObject(%q) = %q, want %q", tt.prefix, got, tt.lock)
		}
	}
}

func changesEqual(a, b []terraform.ResourceChange) bool {
	return slices.EqualFunc(a, b, func(x, y terraform.ResourceChange) bool {
		return x.Address == y.Address && slices.Equal(x.Actions, y.Actions)
	})
}
