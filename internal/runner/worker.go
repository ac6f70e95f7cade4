package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/runapi"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Workers runs terraform through `tfpr worker` processes (a sandbox per
// run, or a Kubernetes Job) instead of as children of the server. Each run
// gets the project's files and, where an account template is set, a token
// minted for the project's own account, and nothing else of the server.
type Workers struct {
	Dispatcher *runapi.Dispatcher
	// Impersonate names the account a run's token is minted for.
	Impersonate func(repo, project string, mode Mode) (string, error)
	Budget      time.Duration
}

var _ Executor = (*Workers)(nil)

// Terraform returns the terraform of one project in one mode.
func (w *Workers) Terraform(repo, project string, mode Mode, inputs []string) (Terraform, error) {
	if len(inputs) == 0 {
		// A run gets only what the gate checked; without that, nothing.
		return nil, fmt.Errorf("run %s: the files it reads are not known", project)
	}
	sa := ""
	if w.Impersonate != nil {
		var err error
		if sa, err = w.Impersonate(repo, project, mode); err != nil {
			return nil, err
		}
	}
	return &workerTerraform{w: w, project: project, mode: mode, sa: sa, inputs: slices.Clone(inputs)}, nil
}

type workerTerraform struct {
	w       *Workers
	project string
	mode    Mode
	sa      string
	inputs  []string
}

// request describes a run in dir (the project inside a checkout): the
// bundle carries what the project's terraform reads, as the scan the gate
// used found it.
func (t *workerTerraform) request(ctx context.Context, dir string, be terraform.Backend, stage runspec.Stage) (runapi.Request, error) {
	rel := filepath.FromSlash(t.project)
	root, ok := strings.CutSuffix(filepath.Clean(dir), string(filepath.Separator)+rel)
	if !ok {
		return runapi.Request{}, fmt.Errorf("%s %s: %s is not that project's directory", stage, t.project, dir)
	}
	return runapi.Request{RunID: runOf(ctx), Stage: stage, Project: t.project, Root: root, Paths: t.inputs,
		Bucket: be.Bucket, Prefix: be.Prefix, LockPlans: t.mode == ModeApply, Budget: t.w.Budget, ServiceAccount: t.sa}, nil
}

func (t *workerTerraform) Plan(ctx context.Context, dir string, be terraform.Backend, planFile string) (*terraform.Plan, error) {
	req, err := t.request(ctx, dir, be, runspec.Plan)
	if err != nil {
		return nil, err
	}
	res, err := t.w.Dispatcher.Run(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.Status != runspec.Succeeded {
		return nil, failure(res)
	}
	if !filepath.IsAbs(planFile) {
		planFile = filepath.Join(dir, planFile)
	}
	if err := os.WriteFile(planFile, res.Plan.File, 0o600); err != nil {
		return nil, fmt.Errorf("save plan of %s: %w", t.project, err)
	}
	p := &terraform.Plan{File: planFile, HasChanges: res.Plan.HasChanges, Add: res.Plan.Add, Change: res.Plan.Change,
		Destroy: res.Plan.Destroy, Import: res.Plan.Import, Text: res.Plan.Text, JSON: res.Plan.JSON}
	for _, c := range res.Plan.Changes {
		p.Changes = append(p.Changes, terraform.ResourceChange{Address: c.Address, Actions: c.Actions})
	}
	if len(p.JSON) > 0 {
		// The comment's summary table reads the plan's JSON, as a plan run
		// in the server's own process does.
		if p.Summary, err = terraform.SummaryOf(p.JSON); err != nil {
			return nil, fmt.Errorf("summarize plan of %s: %w", t.project, err)
		}
	}
	return p, nil
}

func (t *workerTerraform) Apply(ctx context.Context, dir string, be terraform.Backend, planFile string) (string, error) {
	req, err := t.request(ctx, dir, be, runspec.Apply)
	if err != nil {
		return "", err
	}
	if req.Plan, err = readPlan(planFile); err != nil {
		return "", err
	}
	res, err := t.w.Dispatcher.Run(ctx, req)
	if err != nil {
		return "", err
	}
	return res.Output, resultErr(res)
}

func (t *workerTerraform) ForceUnlock(ctx context.Context, dir string, be terraform.Backend, lockID string) error {
	req, err := t.request(ctx, dir, be, runspec.Unlock)
	if err != nil {
		return err
	}
	req.LockID = lockID
	res, err := t.w.Dispatcher.Run(ctx, req)
	if err != nil {
		return err
	}
	return resultErr(res)
}

func resultErr(res runspec.Result) error {
	switch res.Status {
	case runspec.Succeeded:
		return nil
	case runspec.StalePlan:
		return fmt.Errorf("%w: %s", terraform.ErrStalePlan, res.Error)
	}
	return failure(res)
}

// failure is a failed result as an error. When terraform itself exited
// non-zero it matches terraform.ErrFailed: the code under review failed,
// not tfpr (a worker that could not run terraform, or was killed).
func failure(res runspec.Result) error {
	if n := len(res.Exits); n > 0 && res.Exits[n-1].Code > 0 {
		return terraformFailed(res.Error)
	}
	return errors.New(res.Error)
}

type terraformFailed string

func (e terraformFailed) Error() string        { return string(e) }
func (e terraformFailed) Is(target error) bool { return target == terraform.ErrFailed }

func readPlan(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, runspec.MaxFileBytes+1))
	if err == nil && len(b) > runspec.MaxFileBytes {
		err = fmt.Errorf("%s is larger than %d bytes", path, runspec.MaxFileBytes)
	}
	return b, err
}

// Adopt finds what an earlier server process started for tfpr run runID.
// A worker still running is waited for (a plan's too, so the state lock it
// holds is released by terraform itself, never forced). When the newest
// worker run is an apply that finished, or finishes now, its output is
// returned with found true: the apply happened once and is only reported.
func (w *Workers) Adopt(ctx context.Context, runID int64) (string, bool, error) {
	wr, ok, err := w.Dispatcher.Latest(ctx, runID)
	if err != nil || !ok {
		return "", false, err
	}
	if wr.State == store.WorkerClosed && wr.Result == "" {
		return "", false, nil
	}
	found, err := w.Dispatcher.Inspect(ctx, wr)
	if err != nil || found == runapi.Dead {
		return "", false, err
	}
	res, err := w.Dispatcher.Wait(ctx, wr)
	if err != nil {
		if errors.Is(err, runapi.ErrLost) {
			return "", false, nil
		}
		return "", false, err
	}
	if wr.Stage != runspec.Apply.String() || res.Status == runspec.StalePlan {
		return "", false, nil
	}
	return res.Output, true, resultErr(res)
}

// HeldBy reports whether a state lock whose holder is who was taken by one
// of tfpr run runID's workers (known false when who names no worker).
func (w *Workers) HeldBy(ctx context.Context, runID int64, who string) (ours, known bool) {
	_, host, ok := strings.Cut(who, "@")
	id, isRun := strings.CutPrefix(host, "tfpr-run-")
	if !ok || !isRun {
		return false, false
	}
	var n int64
	if _, err := fmt.Sscan(id, &n); err != nil {
		return false, true
	}
	wr, err := w.Dispatcher.Get(ctx, n)
	return err == nil && wr.RunID == runID && wr.State == store.WorkerClosed, true
}

type runKey struct{}

// withRun tags ctx with the tfpr run its terraform belongs to, so a
// worker run is recorded under it and found again after a restart.
func withRun(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, runKey{}, id)
}

func runOf(ctx context.Context) int64 {
	id, _ := ctx.Value(runKey{}).(int64)
	return id
}
