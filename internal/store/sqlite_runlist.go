package store

import (
	"context"
	"fmt"
)

// RunFilter selects runs for the runs page; empty fields match all.
type RunFilter struct {
	Project string
	Status  Status
	Limit   int // at most 500; 100 if 0
}

// RecentRuns lists runs matching f, newest first.
func (s *SQLite) RecentRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 500)
	runs, err := s.scanRuns(s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE (? = '' OR project = ?) AND (? = '' OR status = ?) ORDER BY id DESC LIMIT ?`,
		f.Project, f.Project, f.Status, f.Status, f.Limit))
	if err != nil {
		return nil, fmt.Errorf("list recent runs: %w", err)
	}
	return runs, nil
}
