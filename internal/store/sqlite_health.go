package store

import (
	"context"
	"fmt"
)

// CheckWritable writes one row, so readiness fails when the database can
// no longer take writes (a full or read-only volume, a closed store),
// which is when webhooks would be refused and runs lost.
func (s *SQLite) CheckWritable(ctx context.Context) error {
	const q = `CREATE TABLE IF NOT EXISTS readiness (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
INSERT INTO readiness(id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at`
	if _, err := s.db.ExecContext(ctx, q, now()); err != nil {
		return fmt.Errorf("write to the store: %w", err)
	}
	return nil
}
