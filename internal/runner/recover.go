package runner

import (
	"context"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
)

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
			r.log.Warn("resync: read commands", "repo", repo.FullName, "pr", pr.Number, "err", err)
			continue
		}
		for _, c := range comments {
			job, ok := commandJob(repo, pr.Number, true, c.ID, c.Author, c.Body, "resync")
			if !ok {
				continue
			}
			q, err := r.store.EnqueueJobOnce(ctx, job)
			if err != nil {
				r.log.Warn("resync: queue command", "repo", repo.FullName, "pr", pr.Number, "comment", c.ID, "err", err)
				continue
			}
			if q {
				r.log.Info("resync: command without webhook queued", "repo", repo.FullName, "pr", pr.Number, "comment", c.ID)
				queued = true
			}
		}
	}
	if queued {
		r.poke()
	}
}
