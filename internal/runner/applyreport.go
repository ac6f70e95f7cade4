package runner

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
)

// IssueLabel marks the issues tfpr opens for failed applies.
const IssueLabel = "tfpr-apply-failed"

// reportApply tells GitHub how an apply ended: a check run on the merge
// commit, a comment on the PR, and for a failure an issue plus a block on
// the project so later merges wait instead of piling on.
func (r *Runner) reportApply(ctx context.Context, st *applyState, status store.Status, applyErr error) {
	res := st.result
	if res.Outcome == "" {
		res.Outcome = report.ApplyFailed
	}
	if applyErr != nil && res.Output == "" {
		res.Output = applyErr.Error()
	}
	round := report.Round{Kind: report.KindApply, SHA: st.run.SHA, PR: st.run.PR, Results: []report.Result{res}}
	if err := r.publish(ctx, st.s, round); err != nil {
		r.logger(ctx).Error("report apply", "run", st.run.ID, "err", err)
	}
	switch status {
	case store.StatusFailed, store.StatusDenied:
		r.blockProject(ctx, st, res)
	case store.StatusSucceeded:
		r.replanOthers(ctx, st)
	}
}

func (r *Runner) blockProject(ctx context.Context, st *applyState, res report.Result) {
	body := fmt.Sprintf("%s\nApply of `%s` at %s", report.Marker("apply-failed"), st.run.Project, st.run.SHA)
	if st.run.PR > 0 {
		body += fmt.Sprintf(" (PR #%d)", st.run.PR)
	}
	body += " failed. Later merges touching this project wait until this is resolved.\n\n" +
		"Fix it by merging a change (the fix is applied first once this issue is unblocked), then comment `tfpr unblock` here; " +
		"or comment `tfpr apply` here to retry the failed apply.\n\n```\n" + clipText(res.Output, 20000) + "\n```\n"
	issue, err := st.s.gh.EnsureIssue(ctx, "tfpr: apply failed for "+st.run.Project, IssueLabel, r.mask(body, st.s.token))
	if err != nil {
		// The block stands without an issue; `tfpr unblock -p DIR` on
		// any PR clears it.
		r.logger(ctx).Error("open apply-failure issue", "project", st.run.Project, "err", err)
		return
	}
	if err := r.store.BlockProject(ctx, store.Block{Repo: st.run.Repo, Project: st.run.Project, RunID: st.run.ID, Issue: issue,
		Reason: "apply failed at " + short(st.run.SHA)}); err != nil {
		r.logger(ctx).Error("record the project's issue", "project", st.run.Project, "err", err)
	}
}

// replanOthers re-plans open PRs whose plans of this project the apply
// just made stale, so reviewers never read an outdated plan.
func (r *Runner) replanOthers(ctx context.Context, st *applyState) {
	plans, err := r.store.OpenPlansFor(ctx, st.run.Repo, st.run.Project, st.run.PR)
	if err != nil {
		r.logger(ctx).Error("find PRs to re-plan", "err", err)
		return
	}
	repo, err := r.repoOf(ctx, st.run.Repo)
	if err != nil {
		return
	}
	for _, p := range plans {
		pr, err := st.s.gh.PullRequest(ctx, p.PR)
		if err != nil || pr.State != "open" {
			continue
		}
		_, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef,
			Author: pr.Author, Fork: pr.Fork, Trigger: "after-apply:" + strconv.FormatInt(st.run.ID, 10), Projects: []string{st.run.Project}})
		if err != nil {
			r.logger(ctx).Error("queue re-plan", "pr", pr.Number, "err", err)
		}
	}
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n…"
}
