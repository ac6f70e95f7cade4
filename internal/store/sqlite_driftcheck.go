package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DriftResult is what the last drift check of a project found.
type DriftResult string

const (
	// DriftUnchecked: the project was never checked.
	DriftUnchecked DriftResult = ""
	// DriftInSync: the plan of the default branch had no changes.
	DriftInSync DriftResult = "in-sync"
	// DriftDrifted: the plan had changes; the world differs from the code.
	DriftDrifted DriftResult = "drifted"
	// DriftErrored: the check could not tell (policy, init or plan failed).
	DriftErrored DriftResult = "errored"
)

// DriftCheck is the drift schedule and last outcome of one default-branch
// project.
type DriftCheck struct {
	Repo    string
	Project string
	// Due is when the project is next checked; Requested, when set, is
	// when someone asked for a check now (`tfpr drift`), which goes first.
	Due         time.Time
	Requested   time.Time
	LastChecked time.Time
	Result      DriftResult
	Summary     string // "+1 ~0 -0", or the error's first line
	SHA         string // the default-branch commit last checked
	Issue       int    // the open drift issue; 0 when none
}

const driftCols = `repo, project, due, requested, last_checked, result, summary, sha, issue`

func scanDriftChecks(rows *sql.Rows, err error) ([]DriftCheck, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DriftCheck
	for rows.Next() {
		var d DriftCheck
		var due, req, last int64
		if err := rows.Scan(&d.Repo, &d.Project, &due, &req, &last, &d.Result, &d.Summary, &d.SHA, &d.Issue); err != nil {
			return nil, err
		}
		d.Due, d.Requested, d.LastChecked = ms(due), ms(req), ms(last)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DriftChecks lists the drift schedule of repository repo ("" for every
// repository), by repository and project.
func (s *SQLite) DriftChecks(ctx context.Context, repo string) ([]DriftCheck, error) {
	out, err := scanDriftChecks(s.db.QueryContext(ctx, `SELECT `+driftCols+` FROM drift_checks
		WHERE ? = '' OR repo = ? ORDER BY repo, project`, repo, repo))
	if err != nil {
		return nil, fmt.Errorf("list drift checks of %q: %w", repo, err)
	}
	return out, nil
}

// ScheduleDriftChecks adds projects to the schedule, each first due at its
// Due; projects already scheduled keep their schedule.
func (s *SQLite) ScheduleDriftChecks(ctx context.Context, checks []DriftCheck) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("schedule drift checks: %w", err)
	}
	defer tx.Rollback()
	for _, d := range checks {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO drift_checks(repo, project, due) VALUES (?,?,?)`,
			d.Repo, d.Project, d.Due.UnixMilli()); err != nil {
			return fmt.Errorf("schedule drift check of %s: %w", d.Project, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("schedule drift checks: %w", err)
	}
	return nil
}

// UnscheduleDriftCheck drops a project that no longer exists from the
// schedule.
func (s *SQLite) UnscheduleDriftCheck(ctx context.Context, repo, project string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM drift_checks WHERE repo = ? AND project = ?`, repo, project); err != nil {
		return fmt.Errorf("unschedule drift check of %s: %w", project, err)
	}
	return nil
}

// RequestDriftCheck asks for a check of the project now, scheduling it if
// it is not yet.
func (s *SQLite) RequestDriftCheck(ctx context.Context, repo, project string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO drift_checks(repo, project, due, requested) VALUES (?,?,?,?)
		ON CONFLICT(repo, project) DO UPDATE SET requested = excluded.requested`,
		repo, project, at.UnixMilli(), at.UnixMilli()); err != nil {
		return fmt.Errorf("request drift check of %s: %w", project, err)
	}
	return nil
}

// FinishDriftCheck records a check's outcome, started at started, and its
// next due time. A request made after the check started stays: that
// check may have run on an older commit than the asker saw.
func (s *SQLite) FinishDriftCheck(ctx context.Context, d DriftCheck, started time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE drift_checks SET due = ?, last_checked = ?, result = ?, summary = ?, sha = ?, issue = ?,
		requested = CASE WHEN requested <= ? THEN 0 ELSE requested END WHERE repo = ? AND project = ?`,
		d.Due.UnixMilli(), d.LastChecked.UnixMilli(), d.Result, d.Summary, d.SHA, d.Issue, started.UnixMilli(), d.Repo, d.Project)
	if err != nil {
		return fmt.Errorf("record drift check of %s: %w", d.Project, err)
	}
	return nil
}

// SetDriftIssue records the project's open drift issue (0: none) and,
// unless result is DriftUnchecked, its result.
func (s *SQLite) SetDriftIssue(ctx context.Context, repo, project string, issue int, result DriftResult) error {
	_, err := s.db.ExecContext(ctx, `UPDATE drift_checks SET issue = ?, result = CASE WHEN ? = '' THEN result ELSE ? END
		WHERE repo = ? AND project = ?`, issue, result, result, repo, project)
	if err != nil {
		return fmt.Errorf("record drift issue of %s: %w", project, err)
	}
	return nil
}

// DriftCheckByIssue finds the project whose open drift issue is issue.
func (s *SQLite) DriftCheckByIssue(ctx context.Context, repo string, issue int) (DriftCheck, error) {
	out, err := scanDriftChecks(s.db.QueryContext(ctx, `SELECT `+driftCols+` FROM drift_checks WHERE repo = ? AND issue = ?`, repo, issue))
	if err != nil {
		return DriftCheck{}, fmt.Errorf("find drift issue #%d: %w", issue, err)
	}
	if len(out) == 0 {
		return DriftCheck{}, fmt.Errorf("drift issue #%d: %w", issue, ErrNotFound)
	}
	return out[0], nil
}

// DriftCheckOf returns the schedule of one project.
func (s *SQLite) DriftCheckOf(ctx context.Context, repo, project string) (DriftCheck, error) {
	out, err := scanDriftChecks(s.db.QueryContext(ctx, `SELECT `+driftCols+` FROM drift_checks WHERE repo = ? AND project = ?`, repo, project))
	if err != nil {
		return DriftCheck{}, fmt.Errorf("drift check of %s: %w", project, err)
	}
	if len(out) == 0 {
		return DriftCheck{}, fmt.Errorf("drift check of %s: %w", project, ErrNotFound)
	}
	return out[0], nil
}

// PendingWork counts the PR, merge and command work that drift checks
// yield to: jobs queued or running, and applies running or ready to start
// (not blocked, not backing off).
func (s *SQLite) PendingWork(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)) +
		(SELECT COUNT(*) FROM runs r WHERE r.kind = 'apply' AND (r.status = ? OR (r.status = ? AND r.not_before <= ?
			AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.repo = r.repo AND b.project = r.project))))`,
		StatusQueued, StatusRunning, StatusRunning, StatusQueued, now()).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("count pending work: %w", err)
	}
	return n, nil
}
