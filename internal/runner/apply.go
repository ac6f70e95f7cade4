package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/logctx"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/runapi"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/workspace"
)

// applyState carries one apply through its steps.
type applyState struct {
	run     store.Run
	s       *session
	co      *workspace.Checkout
	scratch string // private dir outside the checkout for plan files
	merge   store.Merge
	lint    []policy.Finding // HCL-stage findings, kept apart from the plan's
	inputs  []string         // what terraform reads, by the scan lint used
	result  report.Result
	// retry is set when the apply failed before terraform touched
	// anything (GitHub, git or the disk failed): trying again is safe.
	retry bool
}

// errBlocked: the project became blocked after the run was scheduled.
var errBlocked = errors.New("project is blocked")

// maxRetries bounds retries of applies that failed before terraform ran.
const maxRetries = 5

// apply runs one queued apply. The run was marked running by the loop, so
// no other apply of this project starts until it finishes.
func (r *Runner) apply(ctx context.Context, run store.Run, interrupted bool) {
	log := r.log.With("run", run.ID, "kind", "apply", "repo", run.Repo, "pr", run.PR, "project", run.Project, "sha", short(run.SHA), "job", run.JobID)
	ctx = withRun(withLogger(ctx, log), run.ID)
	// Applies start from the queue, not from a delivery: the job that
	// queued them names it.
	ctx = logctx.With(ctx, "repo", run.Repo, "pr", run.PR, "job", run.JobID)
	ctx, obs := r.obs.Start(ctx, run.ID, metrics.KindApply, run.Project, run.Created)
	lock := r.lockOf(r.projects, run.Repo+"/"+run.Project)
	lock.Lock()
	defer lock.Unlock()
	release, err := r.slot(ctx)
	if err != nil {
		return // ctx is never cancelled for applies; kept for safety
	}
	defer release()

	st, status, err := r.doApply(ctx, run, interrupted)
	st.result.DetailsURL = r.obs.URL(run.ID)
	defer st.cleanup(ctx)
	if errors.Is(err, errBlocked) || (st.retry && r.retryLater(ctx, st.run, err)) {
		return // not finished: back in the queue
	}
	// A worker that died (evicted, its node lost, past its deadline) left
	// the apply as a crash does: take the interrupted path once, which
	// releases the lock it held and re-plans. A second death is reported.
	if errors.Is(err, runapi.ErrLost) && !interrupted {
		log.Warn("the apply's worker died; it will be re-planned before applying", "err", err)
		if rerr := r.store.RequeueRun(ctx, run.ID, interruptedMark); rerr == nil {
			return
		}
	}
	obs.Finish(status, err)
	summary := string(st.result.Outcome)
	if err != nil {
		summary = err.Error()
		log.Error("apply failed", "err", err)
	} else {
		log.Info("apply finished", "status", status)
	}
	st.run.Status, st.run.Summary = status, firstLine(summary)
	var block *store.Block
	if status == store.StatusFailed || status == store.StatusDenied {
		block = &store.Block{Repo: run.Repo, Project: run.Project, RunID: run.ID, Reason: "apply failed at " + short(run.SHA)}
	}
	// Outcome and block are one transaction, before anything is reported:
	// a crash from here on cannot apply this commit again, and no later
	// merge of the project can slip in before the block exists.
	if err := r.store.FinishApply(ctx, st.run, block); err != nil {
		log.Error("record apply outcome", "err", err)
	}
	if st.s == nil {
		log.Error("apply failed and GitHub is unreachable; the run and the block are recorded", "err", err)
		return
	}
	r.reportApply(ctx, st, status, err)
	if status != store.StatusWaiting && st.run.PR > 0 {
		// The reviewed plan has served its purpose; plans can hold secrets.
		plans, err := r.store.DeletePlans(ctx, run.Repo, st.run.PR, run.Project)
		if err != nil {
			log.Warn("forget applied plan", "err", err)
		}
		r.deletePlanFiles(ctx, plans)
	}
}

func (st *applyState) cleanup(ctx context.Context) {
	if st.co != nil {
		st.co.Close(ctx)
	}
	if st.scratch != "" {
		os.RemoveAll(st.scratch)
	}
}

// retryLater puts an apply that failed before terraform ran back in the
// queue with backoff; after maxRetries it is reported as failed instead.
func (r *Runner) retryLater(ctx context.Context, run store.Run, cause error) bool {
	n := run.Attempts + 1
	if n > maxRetries {
		return false
	}
	backoff := time.Duration(1<<n) * r.cfg.RetryBase
	r.logger(ctx).Warn("apply could not start; retrying", "run", run.ID, "project", run.Project, "attempt", n, "in", backoff, "err", cause)
	if err := r.store.RetryRun(ctx, run.ID, n, time.Now().Add(backoff), fmt.Sprintf("retry %d: %s", n, firstLine(cause.Error()))); err != nil {
		r.logger(ctx).Error("requeue apply", "run", run.ID, "err", err)
	}
	return true
}

func (r *Runner) doApply(ctx context.Context, run store.Run, interrupted bool) (*applyState, store.Status, error) {
	st := &applyState{run: run, result: report.Result{Project: run.Project}}
	if _, err := r.store.Blocked(ctx, run.Repo, run.Project); err == nil {
		if err := r.store.RequeueRun(ctx, run.ID, ""); err != nil {
			return st, store.StatusFailed, err
		}
		return st, store.StatusQueued, errBlocked
	}
	fail := func(err error) (*applyState, store.Status, error) {
		st.retry = true
		return st, store.StatusFailed, err
	}
	repo, err := r.repoOf(ctx, run.Repo)
	if err != nil {
		return fail(err)
	}
	if st.s, err = r.open(ctx, repo, fmt.Sprintf("+refs/heads/%s:refs/heads/%s", repo.DefaultBranch, repo.DefaultBranch)); err != nil {
		return fail(err)
	}
	// Runs are queued only for default-branch commits; checked again here
	// because an apply is the point of no return.
	if on, err := r.ws.OnBranch(ctx, st.s.repo, run.SHA, repo.DefaultBranch); err != nil {
		return fail(err)
	} else if !on {
		st.result.Outcome = report.Denied
		return st, store.StatusDenied, fmt.Errorf("refused to apply %s: the default branch %s does not contain that commit", run.SHA, repo.DefaultBranch)
	}
	st.merge = r.mergeOf(ctx, st.s, store.Job{Repo: repo}, run.SHA)
	if run.PR == 0 && st.merge.PR > 0 && run.ReconciledBy == "" {
		st.run.PR = st.merge.PR
	}
	if st.co, err = r.ws.Checkout(ctx, st.s.repo, run.SHA); err != nil {
		return fail(err)
	}
	if st.scratch, err = r.scratchDir(); err != nil {
		return fail(err)
	}
	g, err := r.scan.Scan(ctx, st.co.Dir)
	if err != nil {
		return fail(err)
	}
	if !g.IsProject(run.Project) {
		st.result.Outcome = report.Skipped
		st.result.Notes = append(st.result.Notes, "The project no longer exists at this commit; nothing was applied. Destroy its resources before removing a project.")
		return st, store.StatusSkipped, nil
	}
	st.inputs = g.Inputs(run.Project)
	modules := g.Modules(run.Project)
	fp, err := r.ws.TreeID(ctx, st.s.repo, run.SHA, append([]string{run.Project}, modules...))
	if err != nil {
		return fail(err)
	}
	// The gate holds on main too: code that reached the default branch
	// without passing the policies (an admin merge) is never applied.
	findings, err := r.pol.LintProject(ctx, st.co.Dir, run.Project, modules)
	st.lint, st.result.Findings = findings, findings
	if err != nil {
		return fail(fmt.Errorf("policy check: %w", err))
	}
	if policy.Blocking(findings) {
		st.result.Outcome = report.Denied
		return st, store.StatusDenied, errors.New("policy denied the merged code; terraform was not run")
	}
	if interrupted {
		if adopted, status, err := r.adoptApply(ctx, st); adopted {
			return st, status, err
		}
		st.result.Notes = append(st.result.Notes, "A previous apply of this commit was interrupted (tfpr or its worker stopped). tfpr released the state lock it left and re-planned, so nothing is applied twice blindly.")
		if err := r.releaseStaleLock(ctx, st); err != nil {
			return st, store.StatusFailed, err
		}
	}
	// A reconcile converges the infrastructure to the code as it is now:
	// never a plan reviewed before the drift.
	fresh := interrupted || run.ReconciledBy != ""
	if run.ReconciledBy != "" {
		st.result.Notes = append(st.result.Notes, reconcileNote(run))
	}
	for {
		plan, reviewed, err := r.planForApply(ctx, st, fp, fresh)
		if err != nil {
			return st, store.StatusFailed, err
		}
		if st.result.Outcome == report.Waiting {
			return st, store.StatusWaiting, nil
		}
		status, err := r.gateAndApply(ctx, st, plan)
		if errors.Is(err, terraform.ErrStalePlan) && reviewed {
			// The state moved since review: plan again, through the same
			// policy gate and drift check as any fresh plan.
			st.result.Notes = append(st.result.Notes, "The state changed after the reviewed plan was made, so tfpr re-planned on the merge commit.")
			fresh = true
			continue
		}
		return st, status, err
	}
}

// gateAndApply runs the plan-stage policies on plan, then applies it.
func (r *Runner) gateAndApply(ctx context.Context, st *applyState, plan *terraform.Plan) (store.Status, error) {
	as, err := r.approvedRules(ctx, st.run.Repo, st.merge.PR, st.merge.HeadSHA)
	if err != nil {
		return store.StatusFailed, err
	}
	approved, approvers := as.forPlan(st.run.Project, planDigest(plan.JSON))
	for _, u := range strings.Split(approvers, ",") {
		if u != "" && !slices.Contains(strings.Split(st.run.ApprovedBy, ","), u) {
			st.run.ApprovedBy = strings.TrimPrefix(st.run.ApprovedBy+","+u, ",")
		}
	}
	planFindings, err := r.pol.CheckPlan(ctx, st.co.Dir, st.run.Project, plan.JSON, approved)
	st.result.Findings = append(slices.Clone(st.lint), planFindings...)
	if err != nil {
		return store.StatusFailed, fmt.Errorf("plan policy check: %w", err)
	}
	if policy.Blocking(planFindings) {
		st.result.Outcome = report.Denied
		return store.StatusDenied, errors.New("plan policy denied the change; an approver can comment `tfpr approve <rule>` on the PR, then `tfpr apply` on the failure issue")
	}
	st.result.Plan = plan
	st.run.PlanHash = fileHash(plan.File)
	if !plan.HasChanges {
		st.result.Outcome = report.Applied
		st.result.Notes = append(st.result.Notes, "The plan had no changes; nothing to apply.")
		return store.StatusSucceeded, nil
	}
	r.showReconcilePlan(ctx, st)
	tf, err := r.tf.Terraform(st.run.Repo, st.run.Project, ModeApply, st.inputs)
	if err != nil {
		return store.StatusFailed, err
	}
	out, err := tf.Apply(ctx, r.projectDir(st.co, st.run.Project), r.backend(st.run.Repo, st.run.Project), plan.File)
	st.result.Output = out
	if errors.Is(err, terraform.ErrStalePlan) {
		return store.StatusFailed, err
	}
	if err != nil {
		st.result.Outcome = report.ApplyFailed
		st.result.Output = strings.TrimSpace(out + "\n" + err.Error())
		return store.StatusFailed, err
	}
	st.result.Outcome = report.Applied
	return store.StatusSucceeded, nil
}
