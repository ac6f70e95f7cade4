package runner

import (
	"context"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
)

// resync is the level-triggered safety net: every open PR should have a
// plan job at its head and the default branch should be queued up to its
// tip. Whatever a missed webhook or a crash lost is found here.
func (r *Runner) resync(ctx context.Context) {
	// GitHub redelivers for a few days at most; a month of finished jobs is
	// plenty to debug with. Runs are never pruned: they are the audit trail.
	if n, err := r.store.Prune(ctx, time.Now().Add(-30*24*time.Hour)); err != nil {
		r.logger(ctx).Warn("prune store", "err", err)
	} else if n > 0 {
		r.logger(ctx).Info("pruned store", "rows", n)
	}
	repos, err := r.store.Repos(ctx)
	if err != nil {
		r.logger(ctx).Error("resync", "err", err)
		return
	}
	for _, repo := range repos {
		if r.cfg.AllowRepo != nil && !r.cfg.AllowRepo(repo.FullName) {
			continue
		}
		if err := r.resyncRepo(ctx, repo); err != nil {
			r.logger(ctx).Error("resync", "repo", repo.FullName, "err", err)
		}
	}
}

func (r *Runner) resyncRepo(ctx context.Context, repo store.Repo) error {
	gh, err := r.gh.Repo(repo.Installation, repo.FullName)
	if err != nil {
		return err
	}
	prs, err := gh.OpenPullRequests(ctx, repo.DefaultBranch)
	if err != nil {
		return err
	}
	for _, pr := range prs {
		done, err := r.store.HasJob(ctx, store.JobPR, repo.FullName, pr.Number, pr.HeadSHA)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		if _, err := r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseSHA: pr.BaseSHA, BaseRef: pr.BaseRef,
			Author: pr.Author, Fork: pr.Fork, Trigger: "resync"}); err != nil {
			return err
		}
	}
	r.recoverCommands(ctx, gh, repo, prs)
	if pending, err := r.store.PendingJob(ctx, store.JobMerge, repo.FullName, 0, ""); err != nil || pending {
		return err
	}
	_, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobMerge, Repo: repo, Trigger: "resync"})
	r.poke()
	return err
}

// commandLookback bounds how far back the resync looks for commands whose
// webhook never arrived. GitHub does not redeliver a delivery that tfpr
// shed under load, so without this such a `tfpr ...` comment is lost;
// a day is far longer than any resync interval.
const commandLookback = 24 * time.Hour

// recoverCommands queues the commands commented on open PRs lately. The
// comment ID keys each command job, so one the webhook already queued
// (or an earlier resync found) is not queued again, finished or not.
// A PR whose comments cannot be read is retried on the next resync.
func (r *Runner) recoverCommands(ctx context.Context, gh RepoClient, repo store.Repo, prs []githubapp.PR) {
	since := time.Now().Add(-commandLookback)
	queued := false
	for _, pr := range prs {
		comments, err := gh.RecentComments(ctx, pr.Number, since)
		if err != nil {
			r.logger(ctx).Warn("resync: read commands", "repo", repo.FullName, "pr", pr.Number, "err", err)
			continue
		}
		for _, c := range comments {
			job, ok := commandJob(repo, pr.Number, true, c.ID, c.Author, c.Body, "resync")
			if !ok {
				continue
			}
			q, err := r.store.EnqueueJobOnce(ctx, job)
			if err != nil {
				r.logger(ctx).Warn("resync: queue command", "repo", repo.FullName, "pr", pr.Number, "comment", c.ID, "err", err)
				continue
			}
			if q {
				r.logger(ctx).Info("resync: command without webhook queued", "repo", repo.FullName, "pr", pr.Number, "comment", c.ID)
				queued = true
			}
		}
	}
	if queued {
		r.poke()
	}
}
