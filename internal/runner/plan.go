package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/workspace"
)

// session is one repository's GitHub client plus its mirror, fetched.
type session struct {
	gh    RepoClient
	repo  workspace.Repo
	token string
}

func (r *Runner) open(ctx context.Context, repo store.Repo, refspecs ...string) (*session, error) {
	gh, err := r.gh.Repo(repo.Installation, repo.FullName)
	if err != nil {
		return nil, err
	}
	token, err := gh.Token(ctx)
	if err != nil {
		return nil, err
	}
	wr := workspace.Repo{FullName: repo.FullName, CloneURL: repo.CloneURL}
	if err := r.ws.Fetch(ctx, wr, token, refspecs...); err != nil {
		return nil, err
	}
	return &session{gh: gh, repo: wr, token: token}, nil
}

// planPR lints and plans every project a PR affects at its head, then
// reports one comment and a check run per project.
func (r *Runner) planPR(ctx context.Context, j store.Job) error {
	baseRef := j.BaseRef
	if baseRef == "" {
		baseRef = j.Repo.DefaultBranch
	}
	s, base, err := r.openPR(ctx, j, baseRef)
	if err != nil {
		return err
	}
	// The diff against the base branch (just fetched) and the checkout and
	// scan of the head are independent; side by side they cost the longer.
	var changed []string
	var diffErr error
	diffDone := make(chan struct{})
	go func() {
		defer close(diffDone)
		changed, diffErr = r.ws.ChangedFiles(ctx, s.repo, base, j.HeadSHA)
	}()
	co, err := r.ws.Checkout(ctx, s.repo, j.HeadSHA)
	if err != nil {
		<-diffDone
		if !r.ws.Has(ctx, s.repo, j.HeadSHA) {
			// Force-pushed away; the push that replaced it has its own job.
			r.logger(ctx).Info("PR head no longer exists; skipping", "pr", j.PR, "sha", j.HeadSHA)
			return nil
		}
		return err
	}
	defer co.Close(context.WithoutCancel(ctx))
	scanned := observe.Time(ctx, metrics.PhaseScan)
	g, err := r.scan.Scan(ctx, co.Dir)
	<-diffDone
	scanned()
	if err != nil {
		return err
	}
	if diffErr != nil {
		return diffErr
	}
	projects := g.Affected(changed)
	if len(j.Projects) > 0 {
		projects = intersect(projects, j.Projects)
	}
	if len(projects) == 0 {
		r.logger(ctx).Info("no project affected", "pr", j.PR, "sha", j.HeadSHA, "changed", len(changed))
		return r.publishNothing(ctx, s, j)
	}
	projects, skipped := capProjects(projects, r.cfg.MaxProjectsPerPR)
	approvals, err := r.approvedRules(ctx, j.Repo.FullName, j.PR, j.HeadSHA)
	if err != nil {
		return err
	}
	round := report.Round{Kind: report.KindPlan, SHA: j.HeadSHA, PR: j.PR, RepoURL: repoURL(j.Repo), At: time.Now()}
	if len(skipped) > 0 {
		round.Notes = append(round.Notes, overflowNote(len(projects), skipped))
	}
	// The in-progress check runs show reviewers that work started; the
	// plans need not wait for GitHub to create them.
	checks := map[string]int64{}
	var checksMu sync.Mutex
	var started sync.WaitGroup
	startCheck := func(p string, create func() int64) {
		started.Go(func() {
			id := create()
			checksMu.Lock()
			checks[p] = id
			checksMu.Unlock()
		})
	}
	startCheck("", func() int64 { return r.startAggregate(ctx, s, report.KindPlan, j.HeadSHA, len(projects)) })
	runTerraform := !j.Fork || r.cfg.AllowForkPRs
	if !runTerraform {
		round.Notes = append(round.Notes, "This PR comes from a fork, so tfpr ran the policy checks but no terraform: "+
			"plans need the state and cloud credentials. A maintainer can push the branch to this repository to get a plan.")
	}
	results := make([]report.Result, len(projects))
	var wg sync.WaitGroup
	for i, p := range projects {
		startCheck(p, func() int64 { return r.startCheck(ctx, s, report.KindPlan, j.HeadSHA, p) })
		wg.Go(func() { results[i] = r.planProject(ctx, s, co, g, j, p, runTerraform, approvals) })
	}
	wg.Wait()
	started.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, p := range skipped[:min(len(skipped), overflowListed)] {
		results = append(results, report.Result{Project: p, Outcome: report.Skipped, NotRun: report.NotRunCap})
	}
	round.Results = results
	return r.publishRound(ctx, s, round, len(j.Projects) == 0, checks)
}

func (r *Runner) planProject(ctx context.Context, s *session, co *workspace.Checkout, g *project.Graph, j store.Job, p string, runTF bool, approved approvals) report.Result {
	res := report.Result{Project: p}
	modules := g.Modules(p)
	lintCtx, lint := r.obs.Start(ctx, 0, metrics.KindLint, p, time.Time{})
	linted := observe.Time(lintCtx, metrics.PhaseLint)
	findings, err := r.pol.LintProject(ctx, co.Dir, p, modules)
	linted()
	lint.Finish(lintStatus(findings, err), err)
	res.Findings = findings
	if err != nil {
		res.Outcome, res.Output = report.Errored, "policy check failed: "+err.Error()
		return res
	}
	if policy.Blocking(findings) {
		// The gate: terraform never sees code the policies denied.
		res.Outcome = report.Denied
		r.recordRun(ctx, store.Run{Kind: store.RunPlan, Repo: j.Repo.FullName, Project: p, PR: j.PR, SHA: j.HeadSHA, Trigger: j.Trigger, JobID: j.ID, Status: store.StatusDenied})
		return res
	}
	if !runTF {
		res.Outcome, res.NotRun = report.Skipped, report.NotRunFork
		return res
	}
	res.Notes = append(res.Notes, r.contention(ctx, j, p)...)
	queued := time.Now()
	lock := r.lockOf(r.projects, j.Repo.FullName+"/"+p)
	lock.Lock()
	defer lock.Unlock()
	release, err := r.slot(ctx)
	if err != nil {
		res.Outcome, res.Output = report.Errored, err.Error()
		return res
	}
	defer release()

	runID := r.recordRun(ctx, store.Run{Kind: store.RunPlan, Repo: j.Repo.FullName, Project: p, PR: j.PR, SHA: j.HeadSHA, Trigger: j.Trigger, JobID: j.ID, Status: store.StatusRunning})
	ctx, obs := r.observe(ctx, runID, metrics.KindPlan, p, queued)
	res.DetailsURL = r.obs.URL(runID)
	finish := func(status store.Status, summary string, err error) {
		r.finishRun(ctx, runID, status, summary)
		obs.Finish(status, err)
	}
	scratch, err := r.scratchDir()
	if err != nil {
		res.Outcome, res.Output = report.Errored, err.Error()
		finish(store.StatusFailed, err.Error(), err)
		return res
	}
	defer os.RemoveAll(scratch)
	planCtx, cancel := context.WithTimeout(ctx, r.cfg.PlanTimeout)
	defer cancel()
	plan, err := r.terraformPlan(planCtx, co, j.Repo.FullName, p, g.Inputs(p), filepath.Join(scratch, "pr.tfplan"), ModePlan)
	if err != nil {
		res.Outcome, res.Output = report.Errored, err.Error()
		finish(store.StatusFailed, firstLine(err.Error()), err)
		return res
	}
	res.Outcome, res.Plan = report.Planned, plan
	rules, _ := approved.forPlan(p, planDigest(plan.JSON))
	planFindings, err := r.pol.CheckPlan(ctx, co.Dir, p, plan.JSON, rules)
	res.Findings = append(res.Findings, planFindings...)
	if err != nil {
		res.Outcome, res.Output = report.Errored, "plan policy check failed: "+err.Error()
	}
	fp, err := r.ws.TreeID(ctx, s.repo, j.HeadSHA, append([]string{p}, modules...))
	if err == nil {
		err = r.keepPlan(ctx, j, p, fp, plan)
	}
	if err != nil {
		res.Outcome, res.Output = report.Errored, "saving the plan failed: "+err.Error()
		finish(store.StatusFailed, err.Error(), err)
		return res
	}
	finish(store.StatusSucceeded, fmt.Sprintf("+%d ~%d -%d", plan.Add, plan.Change, plan.Destroy), nil)
	return res
}

// terraformPlan plans project p inside checkout co into planFile, which
// lies outside the checkout.
func (r *Runner) terraformPlan(ctx context.Context, co *workspace.Checkout, repo, p string, inputs []string, planFile string, mode Mode) (*terraform.Plan, error) {
	tf, err := r.tf.Terraform(repo, p, mode, inputs)
	if err != nil {
		return nil, err
	}
	return tf.Plan(ctx, r.projectDir(co, p), r.backend(repo, p), planFile)
}

func (r *Runner) projectDir(co *workspace.Checkout, p string) string {
	return filepath.Join(co.Dir, filepath.FromSlash(p))
}

// keepPlan saves the plan file and its JSON in the plan store and records
// them. It runs before the plan is reported, so a reported plan can always
// be applied, from this replica or another.
func (r *Runner) keepPlan(ctx context.Context, j store.Job, p, fingerprint string, plan *terraform.Plan) error {
	key := path.Join(j.Repo.FullName, fmt.Sprintf("pr-%d", j.PR), pathKey(p), j.HeadSHA+".tfplan")
	hash, err := r.files.Put(ctx, key, plan.File)
	if err != nil {
		return err
	}
	jsonFile := plan.File + ".json"
	if err := os.WriteFile(jsonFile, plan.JSON, 0o600); err != nil {
		return fmt.Errorf("write plan JSON of %s: %w", p, err)
	}
	jsonHash, err := r.files.Put(ctx, key+".json", jsonFile)
	if err != nil {
		return err
	}
	changes, _ := json.Marshal(plan.Changes)
	_, err = r.store.SavePlan(ctx, store.Plan{Repo: j.Repo.FullName, PR: j.PR, Project: p, HeadSHA: j.HeadSHA, Fingerprint: fingerprint,
		File: key, Hash: hash, Add: plan.Add, Change: plan.Change, Destroy: plan.Destroy, Changes: string(changes),
		JSONHash: jsonHash, Digest: planDigest(plan.JSON)})
	return err
}

// pathKey turns a project dir into one safe, collision-free path element:
// a readable prefix plus a hash of the exact path.
func pathKey(p string) string {
	sum := sha256.Sum256([]byte(p))
	readable := strings.NewReplacer("/", "_", ".", "_").Replace(p)
	if len(readable) > 80 {
		readable = readable[:80]
	}
	return readable + "-" + hex.EncodeToString(sum[:6])
}

func (r *Runner) recordRun(ctx context.Context, run store.Run) int64 {
	id, _, err := r.store.CreateRun(ctx, run)
	if err != nil {
		r.logger(ctx).Error("record run", "project", run.Project, "err", err)
	}
	return id
}

func (r *Runner) finishRun(ctx context.Context, id int64, status store.Status, summary string) {
	if id == 0 {
		return
	}
	if err := r.store.FinishRun(context.WithoutCancel(ctx), id, status, summary); err != nil {
		r.logger(ctx).Error("record run outcome", "run", id, "err", err)
	}
}

// closePR forgets a closed PR's plans and deletes their files.
func (r *Runner) closePR(ctx context.Context, j store.Job) error {
	plans, err := r.store.DeletePlans(ctx, j.Repo.FullName, j.PR, "")
	if err != nil {
		return err
	}
	r.deletePlanFiles(ctx, plans)
	return nil
}

func intersect(a, b []string) []string {
	want := map[string]bool{}
	for _, s := range b {
		want[strings.Trim(s, "/")] = true
	}
	var out []string
	for _, s := range a {
		if want[s] {
			out = append(out, s)
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func (r *Runner) deletePlanFiles(ctx context.Context, plans []store.Plan) {
	for _, p := range plans {
		for _, key := range []string{p.File, p.File + ".json"} {
			if err := r.files.Delete(ctx, key); err != nil {
				r.logger(ctx).Warn("delete plan file", "key", key, "err", err)
			}
		}
	}
}

// contention says which other open PRs, planned earlier, change project p:
// their merge will make this plan stale, and tfpr re-plans this PR then.
func (r *Runner) contention(ctx context.Context, j store.Job, p string) []string {
	others, err := r.store.OpenPlansFor(ctx, j.Repo.FullName, p, j.PR)
	if err != nil {
		r.logger(ctx).Warn("look up competing PRs", "project", p, "err", err)
		return nil
	}
	var notes []string
	for _, o := range others {
		notes = append(notes, fmt.Sprintf("PR #%d also changes this project and was planned first; when it merges, tfpr re-plans this PR so you review a current plan.", o.PR))
	}
	return notes
}
