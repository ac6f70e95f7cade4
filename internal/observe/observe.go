// Package observe is what the runner calls around each run so that the run
// is seen the same way whatever executes it: its metrics (runs by kind and
// outcome, duration, time queued), its log lines (every line logged with the
// run's context names its project and run) and the end of its live log on
// the runs page (the worker's log stream fills it, through internal/runapi).
package observe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tfpr/tfpr/internal/logctx"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Observer records runs. The zero value records nothing, so a runner built
// without one (tests) needs no special case.
type Observer struct {
	Metrics *metrics.Metrics
	Logs    runlog.Sink
	// PublicURL is the runs page's base URL (TFPR_PUBLIC_URL); empty: no
	// links.
	PublicURL string
}

// Run is one observed run.
type Run struct {
	o       *Observer
	id      int64
	kind    metrics.Kind
	started time.Time
	done    bool
	// inJob: the run belongs to a job, whose end closes its log.
	inJob bool
}

// Start observes run id of kind on project, queued since queued (zero:
// not queued). The returned context carries the run's log attributes;
// call Finish on the Run when it ends.
func (o *Observer) Start(ctx context.Context, id int64, kind metrics.Kind, project string, queued time.Time) (context.Context, *Run) {
	now := time.Now()
	if o == nil {
		o = &Observer{}
	}
	wait := time.Duration(0)
	if !queued.IsZero() && queued.Before(now) {
		wait = now.Sub(queued)
	}
	o.Metrics.RunStarted(kind, wait)
	ctx = logctx.With(ctx, "project", project, "run", id, "run_kind", string(kind))
	ctx, jr := o.enter(ctx, id, project)
	return ctx, &Run{o: o, id: id, kind: kind, started: now, inJob: jr != nil}
}

// Finish records the run's outcome from the status it ended with and the
// error that ended it, and closes its log (a job's run: when the job ends,
// after its report). Later calls do nothing.
func (r *Run) Finish(status store.Status, err error) {
	if r == nil || r.done {
		return
	}
	r.done = true
	r.o.Metrics.RunFinished(r.kind, Outcome(status, err), time.Since(r.started))
	if r.id != 0 && r.o.Logs != nil {
		if err != nil {
			r.o.Logs.Append(runlog.RunID(r.id), "tfpr: "+string(status)+": "+err.Error())
		}
		if !r.inJob {
			r.o.Logs.Finish(runlog.RunID(r.id))
		}
	}
}

// Outcome classes a run's end: a policy denial or a terraform error is the
// code's (failed); a cancelled context is cancelled; any other error is
// tfpr's or a dependency's (errored).
func Outcome(status store.Status, err error) metrics.Outcome {
	var tfErr *terraform.Error
	switch {
	case status == store.StatusCancelled || errors.Is(err, context.Canceled):
		return metrics.OutcomeCancelled
	case err != nil && (errors.As(err, &tfErr) || errors.Is(err, terraform.ErrFailed)):
		return metrics.OutcomeFailed
	case err != nil:
		return metrics.OutcomeErrored
	case status == store.StatusFailed || status == store.StatusDenied:
		return metrics.OutcomeFailed
	}
	return metrics.OutcomeSucceeded
}

// URL is the run's page, or "" without a public URL.
func (o *Observer) URL(id int64) string {
	if o == nil || o.PublicURL == "" || id == 0 {
		return ""
	}
	return fmt.Sprintf("%s/runs/%d", o.PublicURL, id)
}
