package store

import (
	"context"
	"fmt"
)

// Gauges are the store's view of tfpr's load, for the metrics: whatever
// executes the runs, the store knows which wait and which run.
type Gauges struct {
	QueuedJobs, QueuedRuns, RunningRuns int
	// OldestRunningApply is when the longest-running apply started, zero
	// when none runs.
	OldestRunningApply int64 // Unix milliseconds
	Blocked            int
	OldestBlock        int64 // Unix milliseconds, zero when none
}

// LoadGauges counts queued and running work and blocked projects.
func (s *SQLite) LoadGauges(ctx context.Context) (Gauges, error) {
	var g Gauges
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM jobs WHERE status = ?),
		(SELECT COUNT(*) FROM runs WHERE status = ?),
		(SELECT COUNT(*) FROM runs WHERE status = ?),
		(SELECT COALESCE(MIN(started), 0) FROM runs WHERE kind = 'apply' AND status = ?),
		(SELECT COUNT(*) FROM blocks),
		(SELECT COALESCE(MIN(created), 0) FROM blocks)`,
		StatusQueued, StatusQueued, StatusRunning, StatusRunning).Scan(
		&g.QueuedJobs, &g.QueuedRuns, &g.RunningRuns, &g.OldestRunningApply, &g.Blocked, &g.OldestBlock)
	if err != nil {
		return Gauges{}, fmt.Errorf("count queued and running work: %w", err)
	}
	return g, nil
}
