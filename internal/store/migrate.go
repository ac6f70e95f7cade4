package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations change a database made by an older tfpr, in order: entry i
// moves a store at user_version i to i+1. The base schema only ever
// creates tables, so columns added later live here, never in schema.
var migrations = []string{
	// 1: who retried a run is not who approved it; a held apply remembers
	// the plan it was held with; a plan's JSON copy has its own hash; an
	// approval names the plan content it was given for.
	`ALTER TABLE runs ADD COLUMN retried_by TEXT NOT NULL DEFAULT '';
	ALTER TABLE runs ADD COLUMN held_digest TEXT NOT NULL DEFAULT '';
	ALTER TABLE plans ADD COLUMN json_hash TEXT NOT NULL DEFAULT '';
	ALTER TABLE plans ADD COLUMN digest TEXT NOT NULL DEFAULT '';
	ALTER TABLE approvals ADD COLUMN plan_digests TEXT NOT NULL DEFAULT '';`,
	// 2: a command comment is one job, however often it is found (webhook,
	// redelivery, resync).
	`CREATE UNIQUE INDEX IF NOT EXISTS jobs_command_once ON jobs(repo, sha) WHERE kind = 'command' AND sha <> '';`,
	// 3: an apply that failed before terraform ran keeps its attempts and
	// its backoff across restarts.
	`ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE runs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;`,
	// 4: the drift-check schedule of every default-branch project, and
	// reconciles: an apply of a commit that was applied before, asked for on
	// a drift issue, unique per asking comment instead of per commit.
	`CREATE TABLE IF NOT EXISTS drift_checks (
		repo TEXT NOT NULL,
		project TEXT NOT NULL,
		due INTEGER NOT NULL,
		requested INTEGER NOT NULL DEFAULT 0,
		last_checked INTEGER NOT NULL DEFAULT 0,
		result TEXT NOT NULL DEFAULT '',
		summary TEXT NOT NULL DEFAULT '',
		sha TEXT NOT NULL DEFAULT '',
		issue INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (repo, project)
	);
	CREATE INDEX IF NOT EXISTS drift_checks_due ON drift_checks(due, last_checked);
	ALTER TABLE runs ADD COLUMN reconciled_by TEXT NOT NULL DEFAULT '';
	ALTER TABLE runs ADD COLUMN issue INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE runs ADD COLUMN request_key TEXT NOT NULL DEFAULT '';
	DROP INDEX IF EXISTS runs_apply_once;
	CREATE UNIQUE INDEX runs_apply_once ON runs(repo, project, sha, request_key) WHERE kind = 'apply';`,
}

// migrate applies the migrations the database has not seen, each in its
// own transaction with the version bump, so a crash leaves it at a whole
// version.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this tfpr knows (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}
