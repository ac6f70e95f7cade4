package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tfpr/tfpr/internal/planfile"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// The fakes below stand in for GitHub, git and terraform at the runner's
// interfaces, so the runner's own logic runs in milliseconds. The store is
// the real SQLite one.

// fakeLinter denies the projects and plans it is told to.
type fakeLinter struct {
	denyCode map[string]bool   // project -> lint denies it
	denyPlan map[string]string // project -> rule denying its plan unless approved
}

func (l *fakeLinter) LintProject(_ context.Context, _, dir string, _ []string) ([]policy.Finding, error) {
	if l.denyCode[dir] {
		return []policy.Finding{{Rule: "TFPR001", Severity: policy.SeverityDeny, Message: "denied", File: dir + "/main.tf", Line: 1}}, nil
	}
	return nil, nil
}

func (l *fakeLinter) CheckPlan(_ context.Context, _, dir string, _ []byte, approved []string) ([]policy.Finding, error) {
	if rule, ok := l.denyPlan[dir]; ok && !slices.Contains(approved, rule) {
		return []policy.Finding{{Rule: rule, Severity: policy.SeverityDeny, Message: "plan denied", File: dir}}, nil
	}
	return nil, nil
}

// fakeTerraform plans the value of the project's `input` file (so the
// plan follows the code) and records what it applied.
type fakeTerraform struct {
	mu        sync.Mutex
	plans     []string // "mode project"
	applied   []string // plan file base names
	failApply map[string]bool
	drift     map[string]string // project -> value the next merge plan sees
	world     map[string]string // see fakeworld_test.go
}

func (f *fakeTerraform) Terraform(_, project string, mode Mode, _ []string) (Terraform, error) {
	return fakeExec{f: f, project: project, mode: mode}, nil
}

type fakeExec struct {
	f       *fakeTerraform
	project string
	mode    Mode
}

func planJSON(value string) []byte {
	return []byte(`{"resource_changes":[{"address":"terraform_data.x","change":{"actions":["create"],"before":null,"after":{"input":"` + value + `"}}}]}`)
}

func (e fakeExec) Plan(_ context.Context, dir string, _ terraform.Backend, planFile string) (*terraform.Plan, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "input"))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", e.project, err)
	}
	value := strings.TrimSpace(string(raw))
	e.f.mu.Lock()
	e.f.plans = append(e.f.plans, e.mode.String()+" "+e.project)
	if v, ok := e.f.drift[e.project]; ok && e.mode == ModeApply {
		value = v
	}
	inSync := e.f.inSync(e.project, value)
	e.f.mu.Unlock()
	if err := os.WriteFile(planFile, []byte("plan of "+value), 0o600); err != nil {
		return nil, err
	}
	if inSync {
		return &terraform.Plan{File: planFile, JSON: []byte(`{"resource_changes":[]}`), Text: "No changes."}, nil
	}
	return &terraform.Plan{File: planFile, HasChanges: true, Add: 1, JSON: planJSON(value), Text: "+ terraform_data.x input=" + value}, nil
}

func (e fakeExec) Apply(_ context.Context, _ string, _ terraform.Backend, planFile string) (string, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if e.f.failApply[e.project] {
		return "", errors.New("Error: creating terraform_data.x: boom")
	}
	e.f.applied = append(e.f.applied, e.project+" "+filepath.Base(planFile))
	e.f.applyToWorld(e.project, planFile)
	return "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.", nil
}

func (e fakeExec) ForceUnlock(context.Context, string, terraform.Backend, string) error { return nil }

// harness is a Runner wired to the fakes.
type harness struct {
	r    *Runner
	st   *store.SQLite
	gh   *fakeGitHub
	ws   *fakeWorkspace
	lint *fakeLinter
	tf   *fakeTerraform
	repo store.Repo
	logs *lockedBuffer // the runner's log, as JSON lines
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines whose message is msg.
func (l *lockedBuffer) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{st: st, gh: newFakeGitHub(), ws: newFakeWorkspace(t), lint: &fakeLinter{denyCode: map[string]bool{}, denyPlan: map[string]string{}},
		tf: &fakeTerraform{failApply: map[string]bool{}, drift: map[string]string{}, world: map[string]string{}}, logs: &lockedBuffer{},
		repo: store.Repo{FullName: "acme/infra", CloneURL: "https://github.com/acme/infra.git", DefaultBranch: "main", Installation: 1}}
	h.restart(t, cfg, dir)
	if err := st.RememberRepo(context.Background(), h.repo); err != nil {
		t.Fatal(err)
	}
	return h
}

// restart gives the harness a new Runner on the same store, as a new
// process would be.
func (h *harness) restart(t *testing.T, cfg Config, dir string) {
	t.Helper()
	cfg.StateBucket, cfg.DataDir = "state", dir
	r, err := New(cfg, Deps{Store: h.st, GitHub: h.gh, Workspace: h.ws, Policy: h.lint, Plans: planfile.Local{Dir: filepath.Join(dir, "plans")},
		Terraform: h.tf, Log: slog.New(slog.NewJSONHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
}

// projectFiles is a project's code planning value.
func projectFiles(p, value string) map[string]string {
	return map[string]string{p + "/main.tf": "terraform {\n  backend \"gcs\" {}\n}\nresource \"terraform_data\" \"x\" {}\n", p + "/input": value}
}

func merged(files ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for k, v := range f {
			out[k] = v
		}
	}
	return out
}
