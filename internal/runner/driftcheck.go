package runner

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/report/md"
	"github.com/tfpr/tfpr/internal/store"
)

// Drift checks: the default branch is the desired state. On a schedule,
// each of its projects is planned at the branch's head, like a PR plan (the
// policy gate first, the read-only identity, no state lock); a plan with
// changes means the infrastructure drifted from the code, and the
// project's drift issue says so (driftcheck_issue.go).

// driftLoop runs the schedule until ctx ends: it learns the default
// branches' projects at start and every resync interval, and on every poll
// starts the checks that are due, when no PR or apply work is waiting.
func (r *Runner) driftLoop(ctx context.Context) {
	discover := time.NewTicker(r.cfg.ResyncInterval)
	defer discover.Stop()
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	r.discoverProjects(ctx)
	for {
		r.driftTick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-discover.C:
			r.discoverProjects(ctx)
		case <-tick.C:
		case <-r.driftWake:
		}
	}
}

// pokeDrift makes the drift loop look at the schedule now.
func (r *Runner) pokeDrift() {
	select {
	case r.driftWake <- struct{}{}:
	default:
	}
}

// discoverProjects brings every repository's schedule in line with the
// projects on its default branch.
func (r *Runner) discoverProjects(ctx context.Context) {
	repos, err := r.store.Repos(ctx)
	if err != nil {
		r.logger(ctx).Error("drift: list repositories", "err", err)
		return
	}
	for _, repo := range repos {
		if r.cfg.AllowRepo != nil && !r.cfg.AllowRepo(repo.FullName) {
			continue
		}
		if err := r.discoverRepo(ctx, repo); err != nil && ctx.Err() == nil {
			r.logger(ctx).Error("drift: find the default branch's projects", "repo", repo.FullName, "err", err)
		}
	}
}

func (r *Runner) discoverRepo(ctx context.Context, repo store.Repo) error {
	s, err := r.open(ctx, repo, branchRefspec(repo.DefaultBranch))
	if err != nil {
		return err
	}
	co, err := r.ws.Checkout(ctx, s.repo, "refs/heads/"+repo.DefaultBranch)
	if err != nil {
		return err
	}
	defer co.Close(context.WithoutCancel(ctx))
	g, err := r.scan.Scan(ctx, co.Dir)
	if err != nil {
		return err
	}
	scheduled, err := r.store.DriftChecks(ctx, repo.FullName)
	if err != nil {
		return err
	}
	added, gone := syncSchedule(repo.FullName, scheduled, g.Projects(), time.Now(), r.cfg.DriftInterval)
	if err := r.store.ScheduleDriftChecks(ctx, added); err != nil {
		return err
	}
	for _, d := range gone {
		r.forgetDriftProject(ctx, s, d)
	}
	if len(added)+len(gone) > 0 {
		r.logger(ctx).Info("drift: schedule updated", "repo", repo.FullName, "added", len(added), "removed", len(gone))
	}
	return nil
}

func branchRefspec(branch string) string {
	return fmt.Sprintf("+refs/heads/%s:refs/heads/%s", branch, branch)
}

// driftTick starts the checks due now, as many as free drift slots allow.
func (r *Runner) driftTick(ctx context.Context) {
	r.mu.Lock()
	running := maps.Clone(r.drifting)
	r.mu.Unlock()
	free := r.cfg.DriftParallelism - len(running)
	if free <= 0 || ctx.Err() != nil {
		return
	}
	pending, err := r.store.PendingWork(ctx)
	if err != nil {
		r.logger(ctx).Error("drift: count pending work", "err", err)
		return
	}
	checks, err := r.store.DriftChecks(ctx, "")
	if err != nil {
		r.logger(ctx).Error("drift: read the schedule", "err", err)
		return
	}
	for _, d := range pickDriftChecks(checks, running, time.Now(), free, pending) {
		if r.cfg.AllowRepo != nil && !r.cfg.AllowRepo(d.Repo) {
			continue
		}
		key := driftKey(d.Repo, d.Project)
		r.mu.Lock()
		r.drifting[key] = true
		r.mu.Unlock()
		r.plans.Add(1)
		go func() {
			defer r.plans.Done()
			defer r.pokeDrift()
			defer func() { r.mu.Lock(); delete(r.drifting, key); r.mu.Unlock() }()
			r.driftCheck(ctx, d)
		}()
	}
}

// driftCheck checks one project and records and reports what it found. A
// check cut short by shutdown records nothing: the project stays due.
func (r *Runner) driftCheck(ctx context.Context, d store.DriftCheck) {
	started := time.Now()
	log := r.log.With("kind", "drift", "repo", d.Repo, "project", d.Project)
	ctx = withLogger(ctx, log)
	// Held until the outcome is reported and recorded: a reconcile or
	// apply of the project waits, so a stale result cannot reopen the
	// issue it closes.
	lock := r.lockOf(r.projects, d.Repo+"/"+d.Project)
	lock.Lock()
	defer lock.Unlock()
	ctx, obs := r.obs.Start(ctx, 0, metrics.KindDrift, d.Project, d.Due)
	c := r.checkDrift(ctx, d)
	if ctx.Err() != nil {
		obs.Finish(store.StatusCancelled, ctx.Err())
		return
	}
	obs.Finish(driftRunStatus(c))
	if c.gone {
		r.forgetDriftProject(ctx, c.s, d)
		return
	}
	result := driftResultOf(c.res)
	log.Info("drift check finished", "result", result, "sha", short(c.sha), "took", time.Since(started).Round(time.Millisecond))
	if c.s != nil {
		d.Issue = r.reportDrift(ctx, c.s, d, c.res, result, c.sha, started)
	}
	d.Due, d.LastChecked, d.Result, d.SHA = started.Add(r.cfg.DriftInterval), time.Now(), result, c.sha
	d.Summary = firstLine(c.res.Output)
	if c.res.Plan != nil {
		d.Summary = fmt.Sprintf("+%d ~%d -%d", c.res.Plan.Add, c.res.Plan.Change, c.res.Plan.Destroy)
	}
	if err := r.store.FinishDriftCheck(context.WithoutCancel(ctx), d, started); err != nil {
		log.Error("record drift check", "err", err)
	}
}

// driftCheckRun is what one check found.
type driftCheckRun struct {
	s    *session // nil when GitHub or git could not be reached
	sha  string   // the default-branch commit checked
	res  report.Result
	gone bool  // the project is no longer on the default branch
	err  error // what stopped the check, when it errored
}

// checkDrift plans project d at the default branch's head, through the
// same gate as any plan, as a PR plan runs: read-only identity, no state
// lock. The caller holds the project's lock.
func (r *Runner) checkDrift(ctx context.Context, d store.DriftCheck) driftCheckRun {
	c := driftCheckRun{res: report.Result{Project: d.Project}}
	fail := func(err error) driftCheckRun {
		c.res.Outcome, c.res.Output, c.err = report.Errored, err.Error(), err
		return c
	}
	repo, err := r.repoOf(ctx, d.Repo)
	if err != nil {
		return fail(err)
	}
	if c.s, err = r.open(ctx, repo, branchRefspec(repo.DefaultBranch)); err != nil {
		c.s = nil
		return fail(err)
	}
	co, err := r.ws.Checkout(ctx, c.s.repo, "refs/heads/"+repo.DefaultBranch)
	if err != nil {
		return fail(err)
	}
	defer co.Close(context.WithoutCancel(ctx))
	c.sha = co.SHA
	g, err := r.scan.Scan(ctx, co.Dir)
	if err != nil {
		return fail(err)
	}
	if !g.IsProject(d.Project) {
		c.gone = true
		return c
	}
	modules := g.Modules(d.Project)
	findings, err := r.pol.LintProject(ctx, co.Dir, d.Project, modules)
	c.res.Findings = findings
	if err != nil {
		return fail(fmt.Errorf("policy check: %w", err))
	}
	if policy.Blocking(findings) {
		c.res.Outcome = report.Denied
		c.res.Output = "The policies deny the default branch's code for this project, so terraform was not run and drift is unknown."
		return c
	}
	release, err := r.slot(ctx)
	if err != nil {
		return fail(err)
	}
	defer release()
	scratch, err := r.scratchDir()
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(scratch)
	planCtx, cancel := context.WithTimeout(ctx, r.cfg.PlanTimeout)
	defer cancel()
	plan, err := r.terraformPlan(planCtx, co, d.Repo, d.Project, g.Inputs(d.Project), filepath.Join(scratch, "drift.tfplan"), ModePlan)
	if err != nil {
		return fail(err)
	}
	c.res.Outcome, c.res.Plan = report.Planned, plan
	planFindings, err := r.pol.CheckPlan(ctx, co.Dir, d.Project, plan.JSON, nil)
	c.res.Findings = append(c.res.Findings, planFindings...)
	if err != nil {
		c.res.Notes = append(c.res.Notes, "The plan policies could not judge this plan: "+err.Error())
	}
	return c
}

// driftRunStatus is how a check ends as a run, for its metrics: one that
// planned (drift or not) succeeded, one the policies denied failed (the
// code's to fix), any other error is tfpr's or a dependency's.
func driftRunStatus(c driftCheckRun) (store.Status, error) {
	switch {
	case c.gone || c.res.Outcome == report.Planned:
		return store.StatusSucceeded, nil
	case c.res.Outcome == report.Denied:
		return store.StatusDenied, nil
	}
	return store.StatusFailed, c.err
}

// driftResultOf classifies a check's result: a plan with changes is
// drift, one without is in sync, anything else is an error.
func driftResultOf(res report.Result) store.DriftResult {
	switch {
	case res.Outcome == report.Planned && res.Plan != nil && res.Plan.HasChanges:
		return store.DriftDrifted
	case res.Outcome == report.Planned && res.Plan != nil:
		return store.DriftInSync
	}
	return store.DriftErrored
}

// forgetDriftProject drops a project that left the default branch from
// the schedule, closing its drift issue.
func (r *Runner) forgetDriftProject(ctx context.Context, s *session, d store.DriftCheck) {
	if d.Issue > 0 && s != nil {
		msg := md.Sprintf("%s is no longer a project on the default branch; tfpr stopped checking it for drift.", md.Code(d.Project))
		if err := s.gh.CloseIssue(ctx, d.Issue, r.mask(string(msg), s.token)); err != nil {
			r.logger(ctx).Warn("drift: close the issue of a removed project", "project", d.Project, "issue", d.Issue, "err", err)
			return
		}
	}
	if err := r.store.UnscheduleDriftCheck(ctx, d.Repo, d.Project); err != nil {
		r.logger(ctx).Error("drift: unschedule a removed project", "project", d.Project, "err", err)
	}
}
