package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo in the build
)

const schema = `
CREATE TABLE IF NOT EXISTS deliveries (
	id TEXT PRIMARY KEY,
	received INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	repo TEXT NOT NULL,
	pr INTEGER NOT NULL DEFAULT 0,
	sha TEXT NOT NULL DEFAULT '',
	payload TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, id);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(repo, pr, sha, kind);
CREATE TABLE IF NOT EXISTS runs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	repo TEXT NOT NULL,
	project TEXT NOT NULL,
	pr INTEGER NOT NULL DEFAULT 0,
	sha TEXT NOT NULL,
	trigger TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL,
	summary TEXT NOT NULL DEFAULT '',
	merged_by TEXT NOT NULL DEFAULT '',
	approved_by TEXT NOT NULL DEFAULT '',
	plan_hash TEXT NOT NULL DEFAULT '',
	check_run_id INTEGER NOT NULL DEFAULT 0,
	job_id INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	started INTEGER NOT NULL DEFAULT 0,
	finished INTEGER NOT NULL DEFAULT 0
);
-- One apply per project per default-branch commit, however often the merge is
-- announced (pull_request closed, push, redeliveries, resync).
CREATE UNIQUE INDEX IF NOT EXISTS runs_apply_once ON runs(repo, project, sha) WHERE kind = 'apply';
CREATE INDEX IF NOT EXISTS runs_project ON runs(repo, project, kind, status, id);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, kind);
CREATE TABLE IF NOT EXISTS plans (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	repo TEXT NOT NULL,
	pr INTEGER NOT NULL,
	project TEXT NOT NULL,
	head_sha TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	file TEXT NOT NULL,
	hash TEXT NOT NULL,
	n_add INTEGER NOT NULL,
	n_change INTEGER NOT NULL,
	n_destroy INTEGER NOT NULL,
	changes TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_pr ON plans(repo, pr, project, id);
CREATE TABLE IF NOT EXISTS blocks (
	repo TEXT NOT NULL,
	project TEXT NOT NULL,
	run_id INTEGER NOT NULL,
	issue INTEGER NOT NULL,
	reason TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (repo, project)
);
CREATE TABLE IF NOT EXISTS merges (
	repo TEXT NOT NULL,
	sha TEXT NOT NULL,
	pr INTEGER NOT NULL,
	head_sha TEXT NOT NULL,
	merged_by TEXT NOT NULL,
	PRIMARY KEY (repo, sha)
);
CREATE TABLE IF NOT EXISTS cursors (
	repo TEXT PRIMARY KEY,
	sha TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS repos (
	full_name TEXT PRIMARY KEY,
	payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
	repo TEXT NOT NULL,
	pr INTEGER NOT NULL,
	head_sha TEXT NOT NULL,
	rule TEXT NOT NULL,
	user TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (repo, pr, head_sha, rule, user)
);
CREATE TABLE IF NOT EXISTS reported (
	repo TEXT NOT NULL,
	pr INTEGER NOT NULL,
	family TEXT NOT NULL,
	project TEXT NOT NULL,
	sha TEXT NOT NULL,
	result TEXT NOT NULL,
	updated INTEGER NOT NULL,
	PRIMARY KEY (repo, pr, family, project)
);
CREATE TABLE IF NOT EXISTS worker_runs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id INTEGER NOT NULL DEFAULT 0,
	stage TEXT NOT NULL,
	project TEXT NOT NULL,
	token_hash TEXT NOT NULL,
	handle TEXT NOT NULL DEFAULT '',
	result TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL,
	created INTEGER NOT NULL,
	deadline INTEGER NOT NULL,
	finished INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS worker_runs_open ON worker_runs(state, id);
CREATE INDEX IF NOT EXISTS worker_runs_run ON worker_runs(run_id, id);
`

// SQLite is the embedded Store: one file, safe for one tfpr process.
type SQLite struct {
	db *sql.DB
	// ackDB is the ack path's own connection, written by acks alone.
	ackDB *sql.DB
	acks  *ackWriter
}

const (
	firstDeliverySQL = `INSERT OR IGNORE INTO deliveries(id, received) VALUES (?, ?)`
)

// enqueueOnceSQL inserts a job of kind unless one like it is queued or
// running. The kind and statuses are literals, never parameters: whether
// the jobs_command_once partial index applies depends on the kind, so a
// bound kind makes SQLite re-prepare the statement at every new binding
// (a third of an ack's time in the store).
func enqueueOnceSQL(kind JobKind) string {
	return `INSERT OR IGNORE INTO jobs(kind, repo, pr, sha, payload, status, created, updated)
		SELECT ?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE repo = ? AND pr = ? AND sha = ? AND kind = '` +
		string(kind) + `' AND status IN ('` + string(StatusQueued) + `', '` + string(StatusRunning) + `'))`
}

// jobKinds are the kinds a job can have.
var jobKinds = []JobKind{JobPR, JobMerge, JobClose, JobCommand}

var _ Store = (*SQLite)(nil)

// busyTimeoutMS is how long a statement waits for another connection's lock.
const busyTimeoutMS = 10000

// OpenSQLite opens (creating if needed) the database file at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	// WAL keeps readers off the writer's back; synchronous=NORMAL is durable
	// against a crash of tfpr itself, which is the failure that matters here.
	dsn := "file:" + path + fmt.Sprintf("?_pragma=journal_mode(WAL)&_pragma=busy_timeout(%d)&_pragma=synchronous(NORMAL)&_txlock=immediate", busyTimeoutMS)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// One connection serialises writers inside the process; SQLite allows
	// only one at a time anyway and this avoids SQLITE_BUSY storms.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate store %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate store %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("restrict store %s: %w", path, err)
	}
	// The ack path has a connection of its own: in WAL mode the runner's
	// reads never hold it up, and its writes wait only for the write lock,
	// not for every query queued on the runner's connection. It never
	// checkpoints the WAL itself (see ackWriter.checkpointer).
	ackDB, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	ackDB.SetMaxOpenConns(1)
	acks, err := newAckWriter(ctx, ackDB, db)
	if err != nil {
		ackDB.Close()
		db.Close()
		return nil, err
	}
	return &SQLite{db: db, ackDB: ackDB, acks: acks}, nil
}

// Close closes the database.
func (s *SQLite) Close() error {
	s.acks.close()
	return errors.Join(s.ackDB.Close(), s.db.Close())
}

func now() int64 { return time.Now().UnixMilli() }

func ms(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// FirstDelivery records a delivery id and reports whether it is new.
func (s *SQLite) FirstDelivery(ctx context.Context, id string) (bool, error) {
	out, err := s.AckDelivery(ctx, Ack{Delivery: id})
	if err != nil {
		return false, err
	}
	return out != AckDuplicate, nil
}

// ForgetDelivery lets a redelivery of id through again.
func (s *SQLite) ForgetDelivery(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM deliveries WHERE id = ?`, id); err != nil {
		return fmt.Errorf("forget delivery %s: %w", id, err)
	}
	return nil
}

// EnqueueJob persists a job as queued.
func (s *SQLite) EnqueueJob(ctx context.Context, j Job) (int64, error) {
	payload, err := json.Marshal(j)
	if err != nil {
		return 0, fmt.Errorf("encode job: %w", err)
	}
	sha := jobKey(j)
	t := now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO jobs(kind, repo, pr, sha, payload, status, created, updated) VALUES (?,?,?,?,?,?,?,?)`,
		j.Kind, j.Repo.FullName, j.PR, sha, string(payload), StatusQueued, t, t)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s job for %s: %w", j.Kind, j.Repo.FullName, err)
	}
	return res.LastInsertId()
}

// jobKey is what the jobs table's sha column holds for j: the commit for
// plans and applies, the comment for a command (the unique index
// jobs_command_once makes a comment one job, finished or not).
func jobKey(j Job) string {
	switch {
	case j.Kind == JobCommand && j.CommentID != 0:
		return fmt.Sprintf("comment:%d", j.CommentID)
	case j.SHA != "":
		return j.SHA
	}
	return j.HeadSHA
}

// EnqueueJobOnce enqueues j unless a job of its kind for the same PR and
// commit is queued or running, in one statement: the webhook ack path pays
// a single write, group-committed with the deliveries being acknowledged.
// A command already queued for its comment, in any state, is not queued
// again.
func (s *SQLite) EnqueueJobOnce(ctx context.Context, j Job) (bool, error) {
	out, err := s.AckDelivery(ctx, Ack{Job: &j, Enqueue: EnqueueOnce})
	return out == AckQueued, err
}

// ClaimJobs marks up to limit queued jobs running, oldest first, and returns them.
func (s *SQLite) ClaimJobs(ctx context.Context, limit int) ([]Job, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, payload, attempts, created FROM jobs WHERE status = ? ORDER BY id LIMIT ?`, StatusQueued, limit)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	var jobs []Job
	for rows.Next() {
		var j Job
		var payload string
		var created int64
		if err := rows.Scan(&j.ID, &j.Kind, &payload, &j.Attempts, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim jobs: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &j); err != nil {
			rows.Close()
			return nil, fmt.Errorf("decode job %d: %w", j.ID, err)
		}
		j.Created = ms(created)
		j.Status = StatusRunning
		j.Attempts++
		jobs = append(jobs, j)
	}
	rows.Close()
	var given []Job
	for _, j := range jobs {
		if j.Attempts > maxJobFailures {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, error = ?, updated = ? WHERE id = ?`,
				StatusFailed, fmt.Sprintf("given up after %d attempts that did not finish", maxJobFailures), now(), j.ID); err != nil {
				return nil, fmt.Errorf("give up job %d: %w", j.ID, err)
			}
			continue
		}
		given = append(given, j)
	}
	jobs = given
	for _, j := range jobs {
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, attempts = ?, updated = ? WHERE id = ?`, StatusRunning, j.Attempts, now(), j.ID); err != nil {
			return nil, fmt.Errorf("claim job %d: %w", j.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// FinishJob records a job's outcome.
func (s *SQLite) FinishJob(ctx context.Context, id int64, status Status, errText string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, error = ?, updated = ? WHERE id = ?`, status, errText, now(), id); err != nil {
		return fmt.Errorf("finish job %d: %w", id, err)
	}
	return nil
}

// RequeueInterrupted puts jobs that were running when tfpr stopped back in
// the queue; expanding a job is idempotent, so redoing one is safe.
func (s *SQLite) RequeueInterrupted(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, updated = ? WHERE status IN (?, ?)`, StatusQueued, now(), StatusRunning, StatusCancelled)
	if err != nil {
		return 0, fmt.Errorf("requeue interrupted jobs: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// PendingJob reports whether a job of that kind for the PR/sha is queued or running.
func (s *SQLite) PendingJob(ctx context.Context, kind JobKind, repo string, pr int, sha string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE kind = ? AND repo = ? AND pr = ? AND sha = ? AND status IN (?, ?)`,
		kind, repo, pr, sha, StatusQueued, StatusRunning).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up pending %s job: %w", kind, err)
	}
	return n > 0, nil
}

// RememberRepo records a repository tfpr has seen, for the resync loop.
func (s *SQLite) RememberRepo(ctx context.Context, r Repo) error {
	payload, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode repo: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO repos(full_name, payload) VALUES (?, ?)`, r.FullName, string(payload)); err != nil {
		return fmt.Errorf("remember repo %s: %w", r.FullName, err)
	}
	return nil
}

// Repos lists the repositories tfpr has seen.
func (s *SQLite) Repos(ctx context.Context) ([]Repo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT payload FROM repos ORDER BY full_name`)
	if err != nil {
		return nil, fmt.Errorf("list repos: %w", err)
	}
	defer rows.Close()
	var out []Repo
	for rows.Next() {
		var payload string
		var r Repo
		if err := rows.Scan(&payload); err != nil {
			return nil, fmt.Errorf("list repos: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &r); err != nil {
			return nil, fmt.Errorf("decode repo: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// HasJob reports whether a job of that kind for the PR/sha was done or is
// under way, for the resync loop. A failed job counts as not done, so the
// resync retries it, until it has failed maxJobFailures times: a job that
// always fails is reported once per attempt, not forever.
func (s *SQLite) HasJob(ctx context.Context, kind JobKind, repo string, pr int, sha string) (bool, error) {
	var ok, failed int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(status <> ?), 0), COALESCE(SUM(status = ?), 0) FROM jobs WHERE kind = ? AND repo = ? AND pr = ? AND sha = ?`,
		StatusFailed, StatusFailed, kind, repo, pr, sha).Scan(&ok, &failed)
	if err != nil {
		return false, fmt.Errorf("look up %s job: %w", kind, err)
	}
	return ok > 0 || failed >= maxJobFailures, nil
}

// maxJobFailures bounds how often one job is tried: by the resync loop,
// and after crashes (a job that kills tfpr is not retried forever).
const maxJobFailures = 3

// Prune forgets deliveries and finished jobs older than before. Runs are
// kept: they are the audit trail.
func (s *SQLite) Prune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	for _, q := range []string{
		`DELETE FROM deliveries WHERE received < ?`,
		`DELETE FROM jobs WHERE updated < ? AND status NOT IN ('` + string(StatusQueued) + `', '` + string(StatusRunning) + `')`,
		`DELETE FROM reported WHERE updated < ?`,
	} {
		res, err := s.db.ExecContext(ctx, q, before.UnixMilli())
		if err != nil {
			return int(n), fmt.Errorf("prune store: %w", err)
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return int(n), nil
}
