package runner

import (
	"context"
	"strings"

	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/webhook"
)

// Dispatch turns a verified, deduplicated delivery into a durable job and
// wakes the loop. It does no network I/O, so the webhook is acknowledged
// within milliseconds; the job survives a crash right after the 202.
func (r *Runner) Dispatch(ctx context.Context, ev webhook.Event) error {
	_, err := r.ack(ctx, ev, "")
	return err
}

// Record is Dispatch for a delivery not deduplicated yet: its id and its
// job are committed together, in a transaction shared with the deliveries
// arriving at the same moment, so a redelivery is known exactly when the
// work is queued.
func (r *Runner) Record(ctx context.Context, ev webhook.Event) (webhook.Recorded, error) {
	out, err := r.ack(ctx, ev, ev.Meta().Delivery)
	if err != nil {
		return 0, err
	}
	if out == store.AckDuplicate {
		return webhook.Duplicate, nil
	}
	return webhook.Accepted, nil
}

// ack writes ev's job, and its delivery id unless that is "".
func (r *Runner) ack(ctx context.Context, ev webhook.Event, delivery string) (store.AckOutcome, error) {
	m := ev.Meta()
	repo := store.Repo{FullName: m.Repo.FullName, CloneURL: m.Repo.CloneURL, DefaultBranch: m.Repo.DefaultBranch, Installation: m.Installation}
	if repo.DefaultBranch == "" {
		repo.DefaultBranch = "main"
	}
	a := store.Ack{Delivery: delivery}
	job, ok := r.jobFor(ctx, ev, repo)
	if !ok {
		if delivery == "" {
			return store.AckRecorded, nil
		}
		return r.store.AckDelivery(ctx, a)
	}
	job.Delivery = m.Delivery
	a.Job = &job
	if known, ok := r.known.Load(repo.FullName); !ok || known.(store.Repo) != repo {
		if err := r.store.RememberRepo(ctx, repo); err != nil {
			return 0, err
		}
		r.known.Store(repo.FullName, repo)
	}
	if job.Kind == store.JobMerge && job.PR > 0 {
		// Remember which PR made the commit, so the apply reports to it
		// and finds its reviewed plan even if the push arrives first.
		a.Merge = &store.Merge{Repo: repo.FullName, SHA: job.SHA, PR: job.PR, HeadSHA: job.HeadSHA, MergedBy: job.Actor}
	}
	if job.Kind == store.JobPR || job.CommentID != 0 {
		// Redeliveries and opened+ready_for_review bursts plan a head once,
		// and a comment is one command however it is found; nothing new,
		// no need to wake the loop.
		a.Enqueue = store.EnqueueOnce
	}
	out, err := r.store.AckDelivery(ctx, a)
	if err != nil {
		return 0, err
	}
	if out == store.AckQueued {
		r.poke()
	}
	return out, nil
}

func (r *Runner) jobFor(ctx context.Context, ev webhook.Event, repo store.Repo) (store.Job, bool) {
	switch e := ev.(type) {
	case webhook.PullRequestEvent:
		pr := e.PR
		base := store.Job{Repo: repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseSHA: pr.BaseSHA, BaseRef: pr.BaseRef,
			Author: pr.Author, Fork: pr.Fork, Trigger: "webhook"}
		switch e.Action {
		case "opened", "reopened", "synchronize", "ready_for_review":
			if pr.BaseRef != repo.DefaultBranch {
				return store.Job{}, false // tfpr applies from the default branch only
			}
			base.Kind = store.JobPR
			return base, true
		case "closed":
			if pr.Merged && pr.BaseRef == repo.DefaultBranch && pr.MergeCommitSHA != "" {
				base.Kind, base.SHA, base.Actor = store.JobMerge, pr.MergeCommitSHA, pr.MergedBy
				return base, true
			}
			base.Kind = store.JobClose
			return base, true
		}
	case webhook.PushEvent:
		if !e.ToDefaultBranch() || e.Deleted {
			return store.Job{}, false
		}
		return store.Job{Kind: store.JobMerge, Repo: repo, SHA: e.After, Before: e.Before, Actor: e.M.Sender.Login, Trigger: "push"}, true
	case webhook.CheckRunEvent:
		// The Re-run button on a "tfpr plan: DIR" check re-plans DIR. GitHub
		// lets only users with write access re-run checks.
		kind, project, ok := report.ParseExternalID(e.ExternalID)
		if e.Action != "rerequested" || kind != report.KindPlan || !ok || len(e.PRs) == 0 {
			return store.Job{}, false
		}
		pr := e.PRs[0]
		return store.Job{Kind: store.JobPR, Repo: repo, PR: pr.Number, HeadSHA: e.HeadSHA, BaseRef: pr.BaseRef, Fork: pr.Fork,
			Actor: e.M.Sender.Login, Trigger: "rerun:" + e.M.Sender.Login, Projects: []string{project}}, true
	case webhook.CommentEvent:
		if e.Action != "created" {
			return store.Job{}, false
		}
		return commandJob(repo, e.Number, e.IsPR, e.CommentID, e.Author, e.Body, "comment")
	}
	return store.Job{}, false
}

// commandJob is the job for a comment, if it commands tfpr. Bots (tfpr
// itself included: its comments quote terraform output) never do.
func commandJob(repo store.Repo, number int, isPR bool, commentID int64, author, body, trigger string) (store.Job, bool) {
	if strings.HasSuffix(author, "[bot]") || !isCommand(body) {
		return store.Job{}, false
	}
	return store.Job{Kind: store.JobCommand, Repo: repo, PR: number, IsPR: isPR, CommentID: commentID, Actor: author, Body: body,
		Trigger: trigger}, true
}

// isCommand reports whether a comment addresses tfpr: a line starting with
// "tfpr " (or exactly "tfpr").
func isCommand(body string) bool {
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "tfpr" {
			return true
		}
	}
	return false
}
