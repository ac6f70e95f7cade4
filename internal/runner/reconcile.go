package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/report/md"
	"github.com/tfpr/tfpr/internal/store"
)

// Converging drift: `tfpr apply` on a drift issue queues an apply of the
// default branch's head through the same serialized, exactly-once path as
// a merge (apply.go), re-planned on that commit and recorded as a
// reconcile with who asked; `tfpr drift` checks again now.

// driftCommand asks for a drift check now: of the project named with -p
// (on any PR or issue), else of the one this drift issue is about.
func (r *Runner) driftCommand(ctx context.Context, c commandCall) error {
	if r.cfg.DriftInterval <= 0 {
		return c.reply("drift checks are off on this tfpr (`TFPR_DRIFT_INTERVAL=0`); nothing was checked.")
	}
	var d store.DriftCheck
	var err error
	if len(c.cmd.Projects) == 1 {
		d, err = r.store.DriftCheckOf(ctx, c.j.Repo.FullName, c.cmd.Projects[0])
		if errors.Is(err, store.ErrNotFound) {
			return c.reply(string(md.Sprintf("%s is not a project on the default branch (as tfpr last saw it); nothing was checked.", md.Code(c.cmd.Projects[0]))))
		}
	} else {
		d, err = r.store.DriftCheckByIssue(ctx, c.j.Repo.FullName, c.j.PR)
		if errors.Is(err, store.ErrNotFound) {
			return c.reply("this is not a drift issue: use `tfpr drift -p DIR` to name a project.")
		}
	}
	if err != nil {
		return err
	}
	if err := r.store.RequestDriftCheck(ctx, d.Repo, d.Project, time.Now()); err != nil {
		return err
	}
	r.pokeDrift()
	return c.reply(string(md.Sprintf("checking %s for drift now, after any PR and apply work waiting.", md.Code(d.Project))))
}

// reconcile queues an apply of the default branch's head for the project
// drift issue d is about, asked for by a code owner or an approver.
func (r *Runner) reconcile(ctx context.Context, j store.Job, d store.DriftCheck, reply func(string) error) error {
	if ok, err := r.mayRelease(ctx, j, d.Project); err != nil || !ok {
		return refuseOwner(err, reply, "apply", d.Project)
	}
	s, err := r.open(ctx, j.Repo, branchRefspec(j.Repo.DefaultBranch))
	if err != nil {
		return err
	}
	co, err := r.ws.Checkout(ctx, s.repo, "refs/heads/"+j.Repo.DefaultBranch)
	if err != nil {
		return err
	}
	head := co.SHA
	co.Close(context.WithoutCancel(ctx))
	key := "comment " + strconv.FormatInt(j.CommentID, 10)
	if j.CommentID == 0 {
		key = "job " + strconv.FormatInt(j.ID, 10)
	}
	id, created, err := r.store.CreateRun(ctx, store.Run{Kind: store.RunApply, Repo: j.Repo.FullName, Project: d.Project, SHA: head,
		Trigger: "reconcile:" + j.Actor, ReconciledBy: j.Actor, Issue: j.PR, RequestKey: key, JobID: j.ID})
	if err != nil {
		return err
	}
	if !created {
		return nil // this comment's reconcile is queued already
	}
	r.logger(ctx).Info("reconcile queued", "run", id, "project", d.Project, "sha", short(head), "by", j.Actor)
	r.poke()
	return reply(string(md.Sprintf("reconciling %s: tfpr re-plans the default branch at %s and applies that plan, after any earlier applies of the project. "+
		"The plan and the outcome follow here.", md.Code(d.Project), md.Code(short(head)))))
}

// showReconcilePlan shows a reconcile's plan on its drift issue before
// it is applied, rendered as a plan comment.
func (r *Runner) showReconcilePlan(ctx context.Context, st *applyState) {
	if st.run.ReconciledBy == "" || st.run.Issue == 0 {
		return
	}
	res := st.result
	res.Outcome = report.Planned
	body := report.Comment(report.Round{Kind: report.KindPlan, SHA: st.run.SHA, At: time.Now(), Results: []report.Result{res},
		Notes: []string{"The plan of the reconcile @" + st.run.ReconciledBy + " asked for; tfpr applies it now."}})
	if _, err := st.s.gh.Comment(ctx, st.run.Issue, r.mask(body, st.s.token)); err != nil {
		r.logger(ctx).Warn("reconcile: show the plan on the drift issue", "issue", st.run.Issue, "err", err)
	}
}

// reportReconcile shows a reconcile's plan and outcome on its drift issue
// and, once applied, closes the issue: the state now is the head's code.
func (r *Runner) reportReconcile(ctx context.Context, st *applyState, round report.Round, status store.Status) {
	if st.run.ReconciledBy == "" || st.run.Issue == 0 {
		return
	}
	body := report.Comment(round)
	if status == store.StatusSucceeded {
		msg := md.Sprintf("Reconciled by @%s: %s now matches the default branch at %s.", md.Text(st.run.ReconciledBy), md.Code(st.run.Project), md.Code(short(st.run.SHA)))
		if err := st.s.gh.CloseIssue(ctx, st.run.Issue, r.mask(body+"\n\n"+string(msg), st.s.token)); err != nil {
			r.logger(ctx).Warn("reconcile: close the drift issue", "issue", st.run.Issue, "err", err)
			return
		}
		if err := r.store.SetDriftIssue(ctx, st.run.Repo, st.run.Project, 0, store.DriftInSync); err != nil {
			r.logger(ctx).Warn("reconcile: record the closed issue", "err", err)
		}
		return
	}
	if _, err := st.s.gh.Comment(ctx, st.run.Issue, r.mask(body, st.s.token)); err != nil {
		r.logger(ctx).Warn("reconcile: report on the drift issue", "issue", st.run.Issue, "err", err)
	}
}

// recheckAfterApply asks for a drift check of a project whose drift issue
// is open once an apply of it succeeded: the apply may have converged it,
// and the check closes the issue if so.
func (r *Runner) recheckAfterApply(ctx context.Context, st *applyState) {
	if st.run.ReconciledBy != "" || r.cfg.DriftInterval <= 0 {
		return
	}
	d, err := r.store.DriftCheckOf(ctx, st.run.Repo, st.run.Project)
	if err != nil || d.Issue == 0 {
		return
	}
	if err := r.store.RequestDriftCheck(ctx, d.Repo, d.Project, time.Now()); err != nil {
		r.logger(ctx).Warn("drift: ask for a check after an apply", "err", err)
		return
	}
	r.pokeDrift()
}

// reconcileNote says on an apply's report that it is a reconcile.
func reconcileNote(run store.Run) string {
	return fmt.Sprintf("A reconcile asked for by @%s on drift issue #%d: tfpr re-planned the default branch at %s and applied that plan.",
		run.ReconciledBy, run.Issue, short(run.SHA))
}
