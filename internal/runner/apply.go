package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/workspace"
)

// expandMerge queues one apply per affected project for every first-parent
// commit of the default branch between the repo's cursor and the job's
// commit, oldest first. However a merge is announced (closed PR, push,
// redelivery, resync) the unique (project, commit) key makes it one apply.
func (r *Runner) expandMerge(ctx context.Context, j store.Job) error {
	branch := j.Repo.DefaultBranch
	l := r.lockOf(r.repos, j.Repo.FullName)
	l.Lock()
	defer l.Unlock()
	s, err := r.open(ctx, j.Repo, fmt.Sprintf("+refs/heads/%s:refs/heads/%s", branch, branch))
	if err != nil {
		return err
	}
	target := j.SHA
	if target == "" || !r.ws.Has(ctx, s.repo, target) {
		target = "refs/heads/" + branch
	}
	cursor, err := r.store.Cursor(ctx, j.Repo.FullName)
	if err != nil {
		return err
	}
	from := cursor
	if from == "" || !r.ws.Has(ctx, s.repo, from) {
		// First merge tfpr sees: start from the push's before, or just this commit.
		from = j.Before
		if from != "" && !r.ws.Has(ctx, s.repo, from) {
			from = ""
		}
	}
	commits, err := r.ws.FirstParents(ctx, s.repo, from, target)
	if err != nil {
		return err
	}
	if len(commits) == 0 {
		return nil // already queued up to here
	}
	head := commits[len(commits)-1]
	co, err := r.ws.Checkout(ctx, s.repo, head)
	if err != nil {
		return err
	}
	defer co.Close(context.WithoutCancel(ctx))
	g, err := project.Scan(ctx, co.Dir)
	if err != nil {
		return err
	}
	for _, c := range commits {
		files, err := r.ws.CommitFiles(ctx, s.repo, c)
		if err != nil {
			return err
		}
		affected := g.Affected(files)
		if len(affected) == 0 {
			continue
		}
		m := r.mergeOf(ctx, s, j, c)
		for _, p := range affected {
			id, created, err := r.store.CreateRun(ctx, store.Run{Kind: "apply", Repo: j.Repo.FullName, Project: p, PR: m.PR, SHA: c,
				Trigger: j.Trigger, MergedBy: m.MergedBy, JobID: j.ID})
			if err != nil {
				return err
			}
			if created {
				r.log.Info("apply queued", "run", id, "project", p, "sha", short(c), "pr", m.PR)
				r.sayIfBlocked(ctx, s, j.Repo.FullName, p, m.PR)
			}
		}
	}
	return r.store.SetCursor(ctx, j.Repo.FullName, head)
}

// mergeOf finds the PR that produced commit c: from the closed event if it
// came first, else from GitHub.
func (r *Runner) mergeOf(ctx context.Context, s *session, j store.Job, c string) store.Merge {
	if m, err := r.store.MergeFor(ctx, j.Repo.FullName, c); err == nil {
		return m
	}
	m := store.Merge{Repo: j.Repo.FullName, SHA: c}
	if pr, ok, err := s.gh.MergedPullRequest(ctx, c); err == nil && ok {
		m.PR, m.HeadSHA, m.MergedBy = pr.Number, pr.HeadSHA, pr.MergedBy
		if err := r.store.RecordMerge(ctx, m); err != nil {
			r.log.Warn("record merge", "sha", c, "err", err)
		}
	} else if err != nil {
		r.log.Warn("find PR of merge commit", "sha", c, "err", err)
	}
	return m
}

// applyState carries one apply through its steps.
type applyState struct {
	run    store.Run
	s      *session
	co     *workspace.Checkout
	merge  store.Merge
	result report.Result
}

// apply runs one queued apply. The run was marked running by the loop, so
// no other apply of this project starts until it finishes.
func (r *Runner) apply(ctx context.Context, run store.Run, interrupted bool) {
	log := r.log.With("run", run.ID, "project", run.Project, "sha", short(run.SHA))
	lock := r.lockOf(r.projects, run.Repo+"/"+run.Project)
	lock.Lock()
	defer lock.Unlock()
	release, _ := r.slot(ctx)
	defer release()

	st, status, err := r.doApply(ctx, run, interrupted)
	summary := string(st.result.Outcome)
	if err != nil {
		summary = err.Error()
		log.Error("apply failed", "err", err)
	} else {
		log.Info("apply finished", "status", status)
	}
	// The outcome is recorded before anything is reported, so a crash
	// from here on cannot make tfpr apply this commit again.
	st.run.Status, st.run.Summary = status, firstLine(summary)
	if err := r.store.UpdateRun(ctx, st.run); err != nil {
		log.Error("record apply outcome", "err", err)
	}
	if err := r.store.FinishRun(ctx, run.ID, status, firstLine(summary)); err != nil {
		log.Error("record apply outcome", "err", err)
	}
	if st.co != nil {
		st.co.Close(ctx)
	}
	if st.s == nil {
		return // GitHub unreachable: the run records the error; resync retries nothing silently
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

func (r *Runner) doApply(ctx context.Context, run store.Run, interrupted bool) (*applyState, string, error) {
	st := &applyState{run: run, result: report.Result{Project: run.Project}}
	repo, err := r.repoOf(ctx, run.Repo)
	if err != nil {
		return st, store.StatusFailed, err
	}
	st.s, err = r.open(ctx, repo, fmt.Sprintf("+refs/heads/%s:refs/heads/%s", repo.DefaultBranch, repo.DefaultBranch))
	if err != nil {
		return st, store.StatusFailed, err
	}
	st.merge = r.mergeOf(ctx, st.s, store.Job{Repo: repo}, run.SHA)
	if run.PR == 0 && st.merge.PR > 0 {
		st.run.PR = st.merge.PR
	}
	st.co, err = r.ws.Checkout(ctx, st.s.repo, run.SHA)
	if err != nil {
		return st, store.StatusFailed, err
	}
	g, err := project.Scan(ctx, st.co.Dir)
	if err != nil {
		return st, store.StatusFailed, err
	}
	if !g.IsProject(run.Project) {
		st.result.Outcome = report.Skipped
		st.result.Notes = append(st.result.Notes, "The project no longer exists at this commit; nothing was applied. Destroy its resources before removing a project.")
		return st, store.StatusSkipped, nil
	}
	modules := g.Modules(run.Project)
	findings, err := r.pol.LintProject(ctx, st.co.Dir, run.Project, modules)
	st.result.Findings = findings
	if err != nil {
		return st, store.StatusFailed, fmt.Errorf("policy check: %w", err)
	}
	if policy.Blocking(findings) {
		st.result.Outcome = report.Denied
		return st, store.StatusDenied, errors.New("policy denied the merged code; terraform was not run")
	}
	if interrupted {
		st.result.Notes = append(st.result.Notes, "A previous apply of this commit was interrupted (tfpr stopped). tfpr released its stale state lock and re-planned, so nothing is applied twice blindly.")
		if err := r.releaseStaleLock(ctx, st); err != nil {
			return st, store.StatusFailed, err
		}
	}
	plan, err := r.planForApply(ctx, st, modules, interrupted)
	if err != nil {
		return st, store.StatusFailed, err
	}
	if st.result.Outcome == report.Waiting {
		return st, store.StatusWaiting, nil
	}
	approved, approvers, err := r.approvedRules(ctx, run.Repo, st.merge.PR, st.merge.HeadSHA)
	if err != nil {
		return st, store.StatusFailed, err
	}
	if approvers != "" {
		st.run.ApprovedBy = strings.Trim(st.run.ApprovedBy+","+approvers, ",")
	}
	planFindings, err := r.pol.CheckPlan(ctx, st.co.Dir, run.Project, plan.JSON, approved)
	st.result.Findings = append(st.result.Findings, planFindings...)
	if err != nil {
		return st, store.StatusFailed, fmt.Errorf("plan policy check: %w", err)
	}
	if policy.Blocking(planFindings) {
		st.result.Outcome = report.Denied
		return st, store.StatusDenied, errors.New("plan policy denied the change; comment `tfpr approve <rule>` as an approver, then `tfpr apply`")
	}
	st.result.Plan = plan
	if st.run.PlanHash == "" {
		st.run.PlanHash = fileHash(plan.File)
	}
	if !plan.HasChanges {
		st.result.Outcome = report.Applied
		st.result.Notes = append(st.result.Notes, "The plan had no changes; nothing to apply.")
		return st, store.StatusSucceeded, nil
	}
	tf, err := r.terraform(run.Project, true)
	if err != nil {
		return st, store.StatusFailed, err
	}
	out, err := tf.Apply(ctx, st.co.Dir+"/"+run.Project, r.backend(run.Project), plan.File)
	st.result.Output = out
	if errors.Is(err, terraform.ErrStalePlan) {
		// Only a reviewed plan can be stale here; re-plan once and apply that.
		st.result.Notes = append(st.result.Notes, "The state changed after the reviewed plan was made, so tfpr re-planned on the merge commit.")
		if plan, err = r.terraformPlan(ctx, st.co, run.Project, true); err != nil {
			return st, store.StatusFailed, err
		}
		st.result.Plan = plan
		st.run.PlanHash = fileHash(plan.File)
		out, err = tf.Apply(ctx, st.co.Dir+"/"+run.Project, r.backend(run.Project), plan.File)
		st.result.Output = out
	}
	if err != nil {
		st.result.Outcome = report.ApplyFailed
		st.result.Output = strings.TrimSpace(out + "\n" + err.Error())
		return st, store.StatusFailed, err
	}
	st.result.Outcome = report.Applied
	return st, store.StatusSucceeded, nil
}

// planForApply returns the plan to apply: the reviewed plan when it was made
// at the PR's final head on the same code, else a fresh plan on the merge
// commit, compared with the reviewed one.
func (r *Runner) planForApply(ctx context.Context, st *applyState, modules []string, interrupted bool) (*terraform.Plan, error) {
	p := st.run.Project
	reviewed, err := r.store.LatestPlan(ctx, st.run.Repo, st.merge.PR, p)
	haveReviewed := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	fp, err := r.ws.TreeID(ctx, st.s.repo, st.run.SHA, append([]string{p}, modules...))
	if err != nil {
		return nil, err
	}
	var why string
	switch {
	case interrupted:
		why = ""
	case st.merge.PR == 0:
		why = "No PR is known for this commit, so there is no reviewed plan; tfpr planned on the merge commit."
	case !haveReviewed:
		why = fmt.Sprintf("PR #%d has no plan for this project; tfpr planned on the merge commit.", st.merge.PR)
	case st.merge.HeadSHA != "" && reviewed.HeadSHA != st.merge.HeadSHA:
		why = fmt.Sprintf("The last plan was made at %s, not at the PR's final head %s; tfpr re-planned on the merge commit.", short(reviewed.HeadSHA), short(st.merge.HeadSHA))
	case reviewed.Fingerprint != fp:
		why = "The merge commit's code for this project differs from the reviewed head (another change merged first); tfpr re-planned on the merge commit."
	default:
		local := filepath.Join(st.co.Dir, filepath.FromSlash(p), "reviewed.tfplan")
		if err := r.files.Get(ctx, reviewed.File, local); err != nil {
			why = "The reviewed plan file could not be read (" + err.Error() + "); tfpr re-planned on the merge commit."
			break
		}
		st.run.PlanHash = reviewed.Hash
		st.result.Notes = append(st.result.Notes, fmt.Sprintf("Applied the plan reviewed on PR #%d at %s.", st.merge.PR, short(reviewed.HeadSHA)))
		return &terraform.Plan{File: local, HasChanges: true, Add: reviewed.Add, Change: reviewed.Change, Destroy: reviewed.Destroy,
			JSON: r.planJSON(ctx, reviewed.File, local+".json")}, nil
	}
	if why != "" {
		st.result.Notes = append(st.result.Notes, why)
	}
	plan, err := r.terraformPlan(ctx, st.co, p, true)
	if err != nil {
		return nil, err
	}
	if haveReviewed {
		if diff := diffChanges(reviewed.Changes, plan.Changes); diff != "" {
			st.result.Notes = append(st.result.Notes, "The new plan differs from the reviewed one: "+diff+".")
			if r.cfg.ApplyOnDrift == "wait" && st.run.ApprovedBy == "" {
				st.result.Outcome = report.Waiting
				st.result.Plan = plan
				st.result.Notes = append(st.result.Notes, "Apply is held: a code owner can comment `tfpr apply` to apply this plan.")
			}
		}
	}
	return plan, nil
}

// planJSON fetches the JSON form saved beside a reviewed plan, for the
// plan-stage policies. Without it they would judge an empty plan, so a
// missing JSON is reported and the policies fail closed on it.
func (r *Runner) planJSON(ctx context.Context, key, local string) []byte {
	if err := r.files.Get(ctx, key+".json", local); err != nil {
		r.log.Warn("read saved plan JSON", "key", key, "err", err)
		return nil
	}
	js, err := os.ReadFile(local)
	if err != nil {
		r.log.Warn("read saved plan JSON", "file", local, "err", err)
	}
	return js
}

// diffChanges describes how two plans' resource changes differ, "" if not.
func diffChanges(reviewedJSON string, now []terraform.ResourceChange) string {
	var before []terraform.ResourceChange
	_ = json.Unmarshal([]byte(reviewedJSON), &before)
	key := func(c terraform.ResourceChange) string { return c.Address + " (" + strings.Join(c.Actions, ",") + ")" }
	var a, b []string
	for _, c := range before {
		a = append(a, key(c))
	}
	for _, c := range now {
		b = append(b, key(c))
	}
	slices.Sort(a)
	slices.Sort(b)
	var added, gone []string
	for _, k := range b {
		if !slices.Contains(a, k) {
			added = append(added, k)
		}
	}
	for _, k := range a {
		if !slices.Contains(b, k) {
			gone = append(gone, k)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "now also "+strings.Join(added, ", "))
	}
	if len(gone) > 0 {
		parts = append(parts, "no longer "+strings.Join(gone, ", "))
	}
	return strings.Join(parts, "; ")
}

func (r *Runner) repoOf(ctx context.Context, fullName string) (store.Repo, error) {
	repos, err := r.store.Repos(ctx)
	if err != nil {
		return store.Repo{}, err
	}
	for _, rp := range repos {
		if rp.FullName == fullName {
			return rp, nil
		}
	}
	return store.Repo{}, fmt.Errorf("repository %s is unknown to tfpr", fullName)
}

// fileHash is the sha256 of a plan file, recorded for the audit trail.
func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sayIfBlocked tells a merged PR that its apply waits behind a failed one.
func (r *Runner) sayIfBlocked(ctx context.Context, s *session, repo, p string, pr int) {
	b, err := r.store.Blocked(ctx, repo, p)
	if err != nil || pr == 0 {
		return
	}
	msg := fmt.Sprintf("%s\nThe apply of `%s` for this merge is **waiting**: an earlier apply of the project failed (%s). "+
		"It runs, in merge order, once the project is unblocked on issue #%d (`tfpr unblock` or `tfpr apply` there).", report.Marker("apply"), p, b.Reason, b.Issue)
	if _, err := s.gh.Comment(ctx, pr, msg); err != nil {
		r.log.Warn("say apply waits", "pr", pr, "err", err)
	}
}
