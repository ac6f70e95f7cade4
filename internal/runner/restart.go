package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
