package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfpr/tfpr/internal/report"

	"github.com/tfpr/tfpr/internal/store"
)

// recover requeues jobs a crash interrupted and marks interrupted applies
// so they are re-planned rather than blindly applied again. Nothing runs
// yet, so checkouts and scratch dirs on disk are all leftovers.
func (r *Runner) recover(ctx context.Context) error {
	if n, err := r.ws.RemoveCheckouts(); err != nil {
		r.logger(ctx).Warn("remove leftover checkouts", "err", err)
	} else if n > 0 {
		r.logger(ctx).Info("removed leftover checkouts", "count", n)
	}
	scratch := filepath.Join(r.cfg.DataDir, "scratch")
	if err := os.RemoveAll(scratch); err != nil {
		r.logger(ctx).Warn("remove leftover scratch dirs", "err", err)
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return fmt.Errorf("create scratch dir: %w", err)
	}
	n, err := r.store.RequeueInterrupted(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		r.logger(ctx).Info("requeued interrupted jobs", "count", n)
	}
	running, err := r.store.RunningApplies(ctx)
	if err != nil {
		return err
	}
	for _, run := range running {
		run.Status = store.StatusQueued
		run.Summary = interruptedMark
		if err := r.store.UpdateRun(ctx, run); err != nil {
			return err
		}
		r.logger(ctx).Warn("apply was interrupted; it will be re-planned before applying", "run", run.ID, "project", run.Project, "sha", run.SHA)
	}
	return nil
}

// interruptedMark in a queued apply's summary means a previous process
// started it and died: its lock may be stale and its plan must be redone.
const interruptedMark = "interrupted"

// Adopter is an executor whose runs outlive the server: after a restart it
// can find and wait for what an earlier process started.
type Adopter interface {
	// Adopt waits for the terraform an earlier process started for run
	// runID. found is true when that was an apply that ran to its end: out
	// and err are then its outcome, and it must not be applied again.
	Adopt(ctx context.Context, runID int64) (out string, found bool, err error)
	// HeldBy reports whether who, a state lock's holder, is one of run
	// runID's workers that has ended; known is false when who names none.
	HeldBy(ctx context.Context, runID int64, who string) (ours, known bool)
}

// adoptApply reports the apply an earlier process started for st, when
// its worker ran (or is still running) to the end, instead of planning
// and applying again.
func (r *Runner) adoptApply(ctx context.Context, st *applyState) (bool, store.Status, error) {
	a, ok := r.tf.(Adopter)
	if !ok {
		return false, "", nil
	}
	out, found, err := a.Adopt(ctx, st.run.ID)
	if !found {
		if err != nil {
			r.logger(ctx).Warn("look for the interrupted apply's worker", "err", err)
		}
		return false, "", nil
	}
	st.result.Output = out
	st.result.Notes = append(st.result.Notes, "tfpr restarted while this apply ran; the apply carried on without it and is reported once, here.")
	if err != nil {
		st.result.Outcome = report.ApplyFailed
		st.result.Output = strings.TrimSpace(out + "\n" + err.Error())
		return true, store.StatusFailed, err
	}
	st.result.Outcome = report.Applied
	return true, store.StatusSucceeded, nil
}
