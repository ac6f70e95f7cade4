package runner

import (
	"context"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/store"
)

// observe starts observing run id (its metrics and runs-page log). Under
// the returned context every line names the run and project, through the
// job's logger and the context's attributes alike, and the run's worker
// runs are recorded under it, so its worker's log stream reaches its page.
func (r *Runner) observe(ctx context.Context, id int64, kind metrics.Kind, project string, queued time.Time) (context.Context, *observe.Run) {
	ctx, run := r.obs.Start(withRun(ctx, id), id, kind, project, queued)
	return withLogger(ctx, r.logger(ctx).With("run", id, "project", project)), run
}

// lintStatus is the status a project's lint ended with.
func lintStatus(findings []policy.Finding, err error) store.Status {
	switch {
	case err != nil:
		return store.StatusFailed
	case policy.Blocking(findings):
		return store.StatusDenied
	}
	return store.StatusSucceeded
}
