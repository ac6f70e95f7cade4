package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

func (s *SQLite) scanRuns(rows *sql.Rows, err error) ([]Run, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var c, st, f, nb int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.Repo, &r.Project, &r.PR, &r.SHA, &r.Trigger, &r.Status, &r.Summary,
			&r.MergedBy, &r.ApprovedBy, &r.RetriedBy, &r.PlanHash, &r.HeldDigest, &r.CheckRunID, &r.JobID, &c, &st, &f, &r.Attempts, &nb); err != nil {
			return nil, err
		}
		r.Created, r.Started, r.Finished, r.NotBefore = ms(c), ms(st), ms(f), ms(nb)
		out = append(out, r)
	}
	return out, rows.Err()
}

const runCols = `id, kind, repo, project, pr, sha, trigger, status, summary, merged_by, approved_by, retried_by, plan_hash, held_digest, check_run_id, job_id, created, started, finished, attempts, not_before`

// CreateRun inserts a run. For applies the (repo, project, sha) key is
// unique: created is false when that apply already exists, and id is the
// existing run's.
func (s *SQLite) CreateRun(ctx context.Context, r Run) (int64, bool, error) {
	if r.Status == "" {
		r.Status = StatusQueued
	}
	res, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO runs(kind, repo, project, pr, sha, trigger, status, summary, merged_by, approved_by, plan_hash, check_run_id, job_id, created)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Kind, r.Repo, r.Project, r.PR, r.SHA, r.Trigger, r.Status, r.Summary, r.MergedBy, r.ApprovedBy, r.PlanHash, r.CheckRunID, r.JobID, now())
	if err != nil {
		return 0, false, fmt.Errorf("create %s run for %s: %w", r.Kind, r.Project, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		id, err := res.LastInsertId()
		return id, true, err
	}
	var id int64
	err = s.db.QueryRowContext(ctx, `SELECT id FROM runs WHERE kind = 'apply' AND repo = ? AND project = ? AND sha = ?`, r.Repo, r.Project, r.SHA).Scan(&id)
	if err != nil {
		return 0, false, fmt.Errorf("look up existing apply for %s at %s: %w", r.Project, r.SHA, err)
	}
	return id, false, nil
}

// StartRun marks a queued run running. It fails if the run is not queued,
// so two schedulers can never both start it.
func (s *SQLite) StartRun(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, started = ? WHERE id = ? AND status = ?`, StatusRunning, now(), id, StatusQueued)
	if err != nil {
		return fmt.Errorf("start run %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("start run %d: it is no longer queued", id)
	}
	return nil
}

// RequeueRun puts a running run back in the queue.
func (s *SQLite) RequeueRun(ctx context.Context, id int64, summary string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, summary = ? WHERE id = ? AND status = ?`, StatusQueued, summary, id, StatusRunning); err != nil {
		return fmt.Errorf("requeue run %d: %w", id, err)
	}
	return nil
}

// RetryRun puts a running run back in the queue after its attempt-th
// failure, not to start before notBefore.
func (s *SQLite) RetryRun(ctx context.Context, id int64, attempt int, notBefore time.Time, summary string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, summary = ?, attempts = ?, not_before = ? WHERE id = ? AND status = ?`,
		StatusQueued, summary, attempt, notBefore.UnixMilli(), id, StatusRunning); err != nil {
		return fmt.Errorf("retry run %d: %w", id, err)
	}
	return nil
}

// SetRunStatus moves a run to status to only if it is in one of from, and
// reports whether it did: concurrent commands cannot both act on a run.
// by.User is recorded as the run's approver or as who retried it.
func (s *SQLite) SetRunStatus(ctx context.Context, id int64, from []Status, to Status, by Release) (bool, error) {
	col := "approved_by"
	switch by.Kind {
	case Retried:
		col = "retried_by"
	case ApprovedPlan:
	default:
		return false, fmt.Errorf("set status of run %d: unknown release kind %d", id, by.Kind)
	}
	q := `UPDATE runs SET status = ?, summary = '', ` + col + ` = CASE WHEN ? = '' THEN ` + col + ` ELSE ? END WHERE id = ? AND status IN (` +
		strings.TrimSuffix(strings.Repeat("?,", len(from)), ",") + `)`
	args := []any{to, by.User, by.User, id}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("set status of run %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// FinishApply records an apply's outcome and, for a failure, blocks its
// project in the same transaction: no later apply of the project can be
// scheduled between the two.
func (s *SQLite) FinishApply(ctx context.Context, r Run, block *Block) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish apply %d: %w", r.ID, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `UPDATE runs SET status = ?, summary = ?, pr = ?, merged_by = ?, approved_by = ?, plan_hash = ?, held_digest = ?, finished = ? WHERE id = ?`,
		r.Status, r.Summary, r.PR, r.MergedBy, r.ApprovedBy, r.PlanHash, r.HeldDigest, now(), r.ID)
	if err != nil {
		return fmt.Errorf("finish apply %d: %w", r.ID, err)
	}
	if block != nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO blocks(repo, project, run_id, issue, reason, created) VALUES (?,?,?,?,?,?)
			ON CONFLICT(repo, project) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason`,
			block.Repo, block.Project, block.RunID, block.Issue, block.Reason, now())
		if err != nil {
			return fmt.Errorf("block %s: %w", block.Project, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish apply %d: %w", r.ID, err)
	}
	return nil
}

// FinishRun records a run's outcome.
func (s *SQLite) FinishRun(ctx context.Context, id int64, status Status, summary string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, summary = ?, finished = ? WHERE id = ?`, status, summary, now(), id); err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

// UpdateRun stores a run's mutable fields.
func (s *SQLite) UpdateRun(ctx context.Context, r Run) error {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, summary = ?, pr = ?, merged_by = ?, approved_by = ?, plan_hash = ?, check_run_id = ? WHERE id = ?`,
		r.Status, r.Summary, r.PR, r.MergedBy, r.ApprovedBy, r.PlanHash, r.CheckRunID, r.ID)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	return nil
}

// GetRun loads one run.
func (s *SQLite) GetRun(ctx context.Context, id int64) (Run, error) {
	runs, err := s.scanRuns(s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return Run{}, fmt.Errorf("get run %d: %w", id, err)
	}
	if len(runs) == 0 {
		return Run{}, fmt.Errorf("get run %d: %w", id, ErrNotFound)
	}
	return runs[0], nil
}

// NextApplies returns, for each project with queued applies and nothing
// running or blocked, its oldest queued apply: per-project merge order.
func (s *SQLite) NextApplies(ctx context.Context) ([]Run, error) {
	runs, err := s.scanRuns(s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs r
		WHERE r.kind = 'apply' AND r.status = ?
		AND r.id = (SELECT MIN(id) FROM runs q WHERE q.kind = 'apply' AND q.repo = r.repo AND q.project = r.project AND q.status IN (?, ?))
		AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.kind = 'apply' AND x.repo = r.repo AND x.project = r.project AND x.status IN (?, ?))
		AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.repo = r.repo AND b.project = r.project)
		ORDER BY r.id`, StatusQueued, StatusQueued, StatusWaiting, StatusRunning, StatusWaiting))
	if err != nil {
		return nil, fmt.Errorf("list next applies: %w", err)
	}
	return runs, nil
}

// RunningApplies lists applies marked running: after a crash these are the
// applies that were interrupted.
func (s *SQLite) RunningApplies(ctx context.Context) ([]Run, error) {
	runs, err := s.scanRuns(s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE kind = 'apply' AND status = ? ORDER BY id`, StatusRunning))
	if err != nil {
		return nil, fmt.Errorf("list running applies: %w", err)
	}
	return runs, nil
}

// ListRuns lists the newest runs, of one kind or all ("").
func (s *SQLite) ListRuns(ctx context.Context, kind RunKind, limit int) ([]Run, error) {
	runs, err := s.scanRuns(s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE (? = '' OR kind = ?) ORDER BY id DESC LIMIT ?`, kind, kind, limit))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// FindRuns lists a PR's runs of one kind and status, oldest first.
func (s *SQLite) FindRuns(ctx context.Context, repo string, pr int, kind RunKind, status Status) ([]Run, error) {
	runs, err := s.scanRuns(s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE repo = ? AND pr = ? AND kind = ? AND status = ? ORDER BY id`, repo, pr, kind, status))
	if err != nil {
		return nil, fmt.Errorf("find %s runs of #%d: %w", kind, pr, err)
	}
	return runs, nil
}

// CountRuns counts runs matching the non-empty filters.
func (s *SQLite) CountRuns(ctx context.Context, kind RunKind, repo, project string, status Status) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE (? = '' OR kind = ?) AND (? = '' OR repo = ?) AND (? = '' OR project = ?) AND (? = '' OR status = ?)`,
		kind, kind, repo, repo, project, project, status, status).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count runs: %w", err)
	}
	return n, nil
}

// SavePlan records a saved plan file.
func (s *SQLite) SavePlan(ctx context.Context, p Plan) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO plans(repo, pr, project, head_sha, fingerprint, file, hash, n_add, n_change, n_destroy, changes, json_hash, digest, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		p.Repo, p.PR, p.Project, p.HeadSHA, p.Fingerprint, p.File, p.Hash, p.Add, p.Change, p.Destroy, p.Changes, p.JSONHash, p.Digest, now())
	if err != nil {
		return 0, fmt.Errorf("save plan for %s PR #%d: %w", p.Project, p.PR, err)
	}
	return res.LastInsertId()
}

const planCols = `id, repo, pr, project, head_sha, fingerprint, file, hash, n_add, n_change, n_destroy, changes, json_hash, digest, created`

func scanPlans(rows *sql.Rows, err error) ([]Plan, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Plan
	for rows.Next() {
		var p Plan
		var c int64
		if err := rows.Scan(&p.ID, &p.Repo, &p.PR, &p.Project, &p.HeadSHA, &p.Fingerprint, &p.File, &p.Hash, &p.Add, &p.Change, &p.Destroy, &p.Changes, &p.JSONHash, &p.Digest, &c); err != nil {
			return nil, err
		}
		p.Created = ms(c)
		out = append(out, p)
	}
	return out, rows.Err()
}

// LatestPlan returns the newest plan of a project in a PR.
func (s *SQLite) LatestPlan(ctx context.Context, repo string, pr int, project string) (Plan, error) {
	plans, err := scanPlans(s.db.QueryContext(ctx, `SELECT `+planCols+` FROM plans WHERE repo = ? AND pr = ? AND project = ? ORDER BY id DESC LIMIT 1`, repo, pr, project))
	if err != nil {
		return Plan{}, fmt.Errorf("latest plan for %s PR #%d: %w", project, pr, err)
	}
	if len(plans) == 0 {
		return Plan{}, ErrNotFound
	}
	return plans[0], nil
}

// PlansSeen returns the newest plan per project of a PR saved at or before
// a time: what a reader of the PR could have seen then.
func (s *SQLite) PlansSeen(ctx context.Context, repo string, pr int, before time.Time) ([]Plan, error) {
	plans, err := scanPlans(s.db.QueryContext(ctx, `SELECT `+planCols+` FROM plans p WHERE repo = ? AND pr = ? AND created <= ?
		AND id = (SELECT MAX(id) FROM plans q WHERE q.repo = p.repo AND q.pr = p.pr AND q.project = p.project AND q.created <= ?) ORDER BY project`,
		repo, pr, before.UnixMilli(), before.UnixMilli()))
	if err != nil {
		return nil, fmt.Errorf("plans of PR #%d seen at %s: %w", pr, before.Format(time.RFC3339), err)
	}
	return plans, nil
}

// DeletePlans forgets a PR's plans (of one project, or all for "") and
// returns them so their files can be removed.
func (s *SQLite) DeletePlans(ctx context.Context, repo string, pr int, project string) ([]Plan, error) {
	plans, err := scanPlans(s.db.QueryContext(ctx, `SELECT `+planCols+` FROM plans WHERE repo = ? AND pr = ? AND (? = '' OR project = ?)`, repo, pr, project, project))
	if err != nil {
		return nil, fmt.Errorf("list plans of PR #%d: %w", pr, err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM plans WHERE repo = ? AND pr = ? AND (? = '' OR project = ?)`, repo, pr, project, project); err != nil {
		return nil, fmt.Errorf("delete plans of PR #%d: %w", pr, err)
	}
	return plans, nil
}

// OpenPlansFor lists the newest plan per unmerged PR (other than exceptPR)
// for a project: the PRs competing for it, whose plans an apply makes stale.
// Plans of closed PRs are deleted, so what is left belongs to open PRs.
func (s *SQLite) OpenPlansFor(ctx context.Context, repo, project string, exceptPR int) ([]Plan, error) {
	plans, err := scanPlans(s.db.QueryContext(ctx, `SELECT `+planCols+` FROM plans p WHERE repo = ? AND project = ? AND pr <> ?
		AND id = (SELECT MAX(id) FROM plans q WHERE q.repo = p.repo AND q.pr = p.pr AND q.project = p.project)
		AND pr NOT IN (SELECT pr FROM merges m WHERE m.repo = p.repo) ORDER BY created, pr`, repo, project, exceptPR))
	if err != nil {
		return nil, fmt.Errorf("list plans touching %s: %w", project, err)
	}
	return plans, nil
}

// BlockProject stops applies of a project.
func (s *SQLite) BlockProject(ctx context.Context, b Block) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO blocks(repo, project, run_id, issue, reason, created) VALUES (?,?,?,?,?,?)
		ON CONFLICT(repo, project) DO UPDATE SET run_id = excluded.run_id, issue = excluded.issue, reason = excluded.reason`,
		b.Repo, b.Project, b.RunID, b.Issue, b.Reason, now())
	if err != nil {
		return fmt.Errorf("block %s: %w", b.Project, err)
	}
	return nil
}

// Unblock lets applies of a project run again.
func (s *SQLite) Unblock(ctx context.Context, repo, project string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM blocks WHERE repo = ? AND project = ?`, repo, project); err != nil {
		return fmt.Errorf("unblock %s: %w", project, err)
	}
	return nil
}

func scanBlock(row *sql.Row) (Block, error) {
	var b Block
	var c int64
	err := row.Scan(&b.Repo, &b.Project, &b.RunID, &b.Issue, &b.Reason, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return Block{}, ErrNotFound
	}
	b.Created = ms(c)
	return b, err
}

// Blocked returns the block on a project, or ErrNotFound.
func (s *SQLite) Blocked(ctx context.Context, repo, project string) (Block, error) {
	return scanBlock(s.db.QueryRowContext(ctx, `SELECT repo, project, run_id, issue, reason, created FROM blocks WHERE repo = ? AND project = ?`, repo, project))
}

// BlockByIssue finds the block whose tracking issue is number issue.
func (s *SQLite) BlockByIssue(ctx context.Context, repo string, issue int) (Block, error) {
	return scanBlock(s.db.QueryRowContext(ctx, `SELECT repo, project, run_id, issue, reason, created FROM blocks WHERE repo = ? AND issue = ?`, repo, issue))
}

// RecordMerge remembers which PR a default-branch commit came from.
func (s *SQLite) RecordMerge(ctx context.Context, m Merge) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO merges(repo, sha, pr, head_sha, merged_by) VALUES (?,?,?,?,?)`, m.Repo, m.SHA, m.PR, m.HeadSHA, m.MergedBy)
	if err != nil {
		return fmt.Errorf("record merge %s: %w", m.SHA, err)
	}
	return nil
}

// MergeFor returns the recorded merge of sha, or ErrNotFound.
func (s *SQLite) MergeFor(ctx context.Context, repo, sha string) (Merge, error) {
	m := Merge{Repo: repo, SHA: sha}
	err := s.db.QueryRowContext(ctx, `SELECT pr, head_sha, merged_by FROM merges WHERE repo = ? AND sha = ?`, repo, sha).Scan(&m.PR, &m.HeadSHA, &m.MergedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("look up merge %s: %w", sha, err)
	}
	return m, nil
}

// Cursor returns the newest default-branch commit whose applies were queued.
func (s *SQLite) Cursor(ctx context.Context, repo string) (string, error) {
	var sha string
	err := s.db.QueryRowContext(ctx, `SELECT sha FROM cursors WHERE repo = ?`, repo).Scan(&sha)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor of %s: %w", repo, err)
	}
	return sha, nil
}

// SetCursor moves the cursor of repo to sha.
func (s *SQLite) SetCursor(ctx context.Context, repo, sha string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO cursors(repo, sha) VALUES (?, ?)`, repo, sha); err != nil {
		return fmt.Errorf("move cursor of %s: %w", repo, err)
	}
	return nil
}

// Approve records an owner's override of a rule for one PR head and the
// plans it was given for.
func (s *SQLite) Approve(ctx context.Context, a Approval) error {
	plans, err := json.Marshal(a.Plans)
	if err != nil {
		return fmt.Errorf("record approval of %s: %w", a.Rule, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO approvals(repo, pr, head_sha, rule, user, created, plan_digests) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(repo, pr, head_sha, rule, user) DO UPDATE SET plan_digests = excluded.plan_digests, created = excluded.created`,
		a.Repo, a.PR, a.HeadSHA, a.Rule, a.User, now(), string(plans))
	if err != nil {
		return fmt.Errorf("record approval of %s: %w", a.Rule, err)
	}
	return nil
}

// Approvals lists the overrides for a PR head.
func (s *SQLite) Approvals(ctx context.Context, repo string, pr int, headSHA string) ([]Approval, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule, user, created, plan_digests FROM approvals WHERE repo = ? AND pr = ? AND head_sha = ? ORDER BY created`, repo, pr, headSHA)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a := Approval{Repo: repo, PR: pr, HeadSHA: headSHA}
		var c int64
		var plans string
		if err := rows.Scan(&a.Rule, &a.User, &c, &plans); err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		// Approvals from before plans were recorded bind to no plan.
		if plans != "" {
			if err := json.Unmarshal([]byte(plans), &a.Plans); err != nil {
				return nil, fmt.Errorf("approval of %s by %s: plans: %w", a.Rule, a.User, err)
			}
		}
		a.Created = ms(c)
		out = append(out, a)
	}
	return out, rows.Err()
}
