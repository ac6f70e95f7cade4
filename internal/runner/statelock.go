package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tfpr/tfpr/internal/gcs"
	"github.com/tfpr/tfpr/internal/terraform"
)

// lockInfo is terraform's state lock record.
type lockInfo struct {
	ID        string
	Operation string
	Who       string
	Created   time.Time
}

// releaseStaleLock removes the state lock an interrupted apply left behind.
// It only touches a lock created after that apply started and before this
// process did: anyone else's lock is reported, never broken.
func (r *Runner) releaseStaleLock(ctx context.Context, st *applyState) error {
	if r.gcs == nil {
		return nil
	}
	obj, err := r.gcs.Read(ctx, r.cfg.StateBucket, terraform.LockObject(r.backend(st.run.Repo, st.run.Project).Prefix), nil)
	if errors.Is(err, gcs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state lock of %s: %w", st.run.Project, err)
	}
	gen := obj.Generation
	var li lockInfo
	if err := json.Unmarshal(obj.Data, &li); err != nil {
		return fmt.Errorf("state lock of %s is not terraform's: %w", st.run.Project, err)
	}
	ours := !st.run.Started.IsZero() && li.Created.After(st.run.Started.Add(-time.Minute)) && li.Created.Before(r.started)
	if a, ok := r.tf.(Adopter); ok {
		// A worker's lock names its run: release it only when that run is
		// this apply's and its worker has ended.
		if held, known := a.HeldBy(ctx, st.run.ID, li.Who); known {
			ours = held
		}
	}
	if !ours {
		return fmt.Errorf("state of %s is locked by %s since %s (%s); tfpr did not take that lock and leaves it alone",
			st.run.Project, li.Who, li.Created.Format(time.RFC3339), li.Operation)
	}
	tf, err := r.tf.Terraform(st.run.Repo, st.run.Project, ModeApply, st.inputs)
	if err != nil {
		return err
	}
	if err := tf.ForceUnlock(ctx, r.projectDir(st.co, st.run.Project), r.backend(st.run.Repo, st.run.Project), strconv.FormatInt(gen, 10)); err != nil {
		return fmt.Errorf("release stale lock of %s: %w", st.run.Project, err)
	}
	r.logger(ctx).Warn("released stale state lock", "project", st.run.Project, "who", li.Who, "created", li.Created)
	st.result.Notes = append(st.result.Notes, fmt.Sprintf("The state lock released was held by %s, this apply's own interrupted run.", li.Who))
	return nil
}
