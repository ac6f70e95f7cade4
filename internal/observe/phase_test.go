package observe_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
)

// A job's phases reach the logs of the runs it started, each once: the
// job's own (fetch, report) in every run's log, a project's lint only in
// that project's, and a run's log stays open for the report that comes
// after the run ended.
func TestJobPhasesReachEachRunsLogOnce(t *testing.T) {
	logs := runlog.New(runlog.Limits{})
	o := &observe.Observer{Logs: logs}
	job := o.Job(context.Background())
	observe.Took(job, metrics.PhaseFetch, 3*time.Millisecond)
	for _, p := range []string{"a", "b"} {
		lintCtx, lint := o.Start(job, 0, metrics.KindLint, p, time.Time{})
		observe.Took(lintCtx, metrics.PhaseLint, time.Millisecond)
		lint.Finish(store.StatusSucceeded, nil)
	}
	runA, a := o.Start(job, 1, metrics.KindPlan, "a", time.Time{})
	observe.Took(runA, metrics.PhasePlan, 2*time.Second)
	a.Finish(store.StatusSucceeded, nil)
	_, b := o.Start(job, 2, metrics.KindPlan, "b", time.Time{})
	b.Finish(store.StatusSucceeded, nil)
	if logs.Finished(1) {
		t.Fatal("run 1's log closed before its job reported")
	}
	observe.Took(job, metrics.PhaseReport, 40*time.Millisecond)
	observe.EndJob(job)

	want := map[runlog.RunID][]string{
		1: {"tfpr: phase fetch took 3ms", "tfpr: phase lint took 1ms", "tfpr: phase plan took 2s", "tfpr: phase report took 40ms"},
		2: {"tfpr: phase fetch took 3ms", "tfpr: phase lint took 1ms", "tfpr: phase report took 40ms"},
	}
	for id, w := range want {
		lines, _ := logs.Lines(id)
		var got []string
		for _, l := range lines {
			if strings.HasPrefix(l, "tfpr: phase ") {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, w) {
			t.Errorf("run %d's phases:\n got %q\nwant %q", id, got, w)
		}
		if !logs.Finished(id) {
			t.Errorf("run %d's log is still open after its job ended", id)
		}
	}
}
