package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WorkerState is where a worker run stands as the server sees it.
type WorkerState string

const (
	// WorkerStarted: handed to an executor; no result yet.
	WorkerStarted WorkerState = "started"
	// WorkerReported: its result is recorded and not yet acted on.
	WorkerReported WorkerState = "reported"
	// WorkerClosed: acted on (or given up as lost); its token is dead.
	WorkerClosed WorkerState = "closed"
)

// WorkerRun is one terraform command sequence run by a worker: the record
// that outlives the server process that started it.
type WorkerRun struct {
	ID int64
	// RunID is the tfpr run it belongs to (0 when none).
	RunID   int64
	Stage   string
	Project string
	// TokenHash is the sha256 of the run's bearer token; the token itself
	// is never stored.
	TokenHash string
	// Handle is the executor's serialized handle (pid and start time,
	// or a Job name), empty until started.
	Handle string
	// Result is the worker's result document, empty until it reports.
	Result   string
	State    WorkerState
	Created  time.Time
	Deadline time.Time // budget plus grace: past it a silent worker is lost
	Finished time.Time
}

const workerCols = `id, run_id, stage, project, token_hash, handle, result, state, created, deadline, finished`

func scanWorker(row interface{ Scan(...any) error }) (WorkerRun, error) {
	var w WorkerRun
	var c, d, f int64
	err := row.Scan(&w.ID, &w.RunID, &w.Stage, &w.Project, &w.TokenHash, &w.Handle, &w.Result, &w.State, &c, &d, &f)
	w.Created, w.Deadline, w.Finished = ms(c), ms(d), ms(f)
	return w, err
}

// CreateWorkerRun records a worker run before it starts and returns its id.
func (s *SQLite) CreateWorkerRun(ctx context.Context, w WorkerRun) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO worker_runs(run_id, stage, project, token_hash, state, created, deadline) VALUES (?,?,?,?,?,?,?)`,
		w.RunID, w.Stage, w.Project, w.TokenHash, WorkerStarted, now(), w.Deadline.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("record worker run for %s: %w", w.Project, err)
	}
	return res.LastInsertId()
}

// SetWorkerHandle stores the executor's handle of a started worker run.
func (s *SQLite) SetWorkerHandle(ctx context.Context, id int64, handle string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE worker_runs SET handle = ? WHERE id = ?`, handle, id); err != nil {
		return fmt.Errorf("store handle of worker run %d: %w", id, err)
	}
	return nil
}

// GetWorkerRun returns worker run id, or ErrNotFound.
func (s *SQLite) GetWorkerRun(ctx context.Context, id int64) (WorkerRun, error) {
	w, err := scanWorker(s.db.QueryRowContext(ctx, `SELECT `+workerCols+` FROM worker_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("worker run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("read worker run %d: %w", id, err)
	}
	return w, nil
}

// RecordWorkerResult stores the first result of a started worker run and
// reports whether it did; a later result for the same run changes nothing.
func (s *SQLite) RecordWorkerResult(ctx context.Context, id int64, result string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE worker_runs SET result = ?, state = ?, finished = ? WHERE id = ? AND state = ?`,
		result, WorkerReported, now(), id, WorkerStarted)
	if err != nil {
		return false, fmt.Errorf("record result of worker run %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CloseWorkerRun marks a worker run acted on: its token no longer opens
// anything, and a restart does not look at it again.
func (s *SQLite) CloseWorkerRun(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE worker_runs SET state = ?, finished = CASE WHEN finished = 0 THEN ? ELSE finished END WHERE id = ?`,
		WorkerClosed, now(), id); err != nil {
		return fmt.Errorf("close worker run %d: %w", id, err)
	}
	return nil
}

// OpenWorkerRuns lists the worker runs not yet acted on, oldest first.
func (s *SQLite) OpenWorkerRuns(ctx context.Context) ([]WorkerRun, error) {
	return s.queryWorkers(ctx, `SELECT `+workerCols+` FROM worker_runs WHERE state <> ? ORDER BY id`, WorkerClosed)
}

// WorkerRunsOf lists the worker runs of tfpr run runID, oldest first.
func (s *SQLite) WorkerRunsOf(ctx context.Context, runID int64) ([]WorkerRun, error) {
	return s.queryWorkers(ctx, `SELECT `+workerCols+` FROM worker_runs WHERE run_id = ? ORDER BY id`, runID)
}

func (s *SQLite) queryWorkers(ctx context.Context, q string, args ...any) ([]WorkerRun, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list worker runs: %w", err)
	}
	defer rows.Close()
	var out []WorkerRun
	for rows.Next() {
		w, err := scanWorker(rows)
		if err != nil {
			return nil, fmt.Errorf("list worker runs: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
