package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Enqueue says how an acknowledged delivery's job joins the queue.
type Enqueue int

const (
	// EnqueueAlways queues the job as a new one.
	EnqueueAlways Enqueue = iota
	// EnqueueOnce queues the job unless one of its kind for the same PR
	// and commit (or comment) is queued or running, as EnqueueJobOnce.
	EnqueueOnce
)

// Ack is what acknowledging one webhook delivery writes: its id, so a
// redelivery is known, and the work it asks for. All of it is committed
// together or not at all, so an acknowledged delivery is never recorded
// without its job.
type Ack struct {
	// Delivery is the X-GitHub-Delivery id; "" records no id (work that
	// comes from somewhere else than a delivery).
	Delivery string
	Job      *Job // nil when the delivery asks for no work
	Enqueue  Enqueue
	Merge    *Merge // the PR that made a merge commit, recorded with its job
}

// what names the ack in an error.
func (a Ack) what() string {
	if a.Delivery != "" {
		return "acknowledge delivery " + a.Delivery
	}
	if a.Job != nil {
		return fmt.Sprintf("queue %s job for %s", a.Job.Kind, a.Job.Repo.FullName)
	}
	return "acknowledge"
}

// AckOutcome is what AckDelivery did.
type AckOutcome int

const (
	// AckDuplicate: the delivery id was seen before; nothing was written.
	AckDuplicate AckOutcome = iota + 1
	// AckRecorded: the delivery is recorded; it queued no new job (it asks
	// for none, or the same job is queued or running already).
	AckRecorded
	// AckQueued: the delivery is recorded and its job queued.
	AckQueued
)

func (o AckOutcome) String() string {
	switch o {
	case AckDuplicate:
		return "duplicate"
	case AckRecorded:
		return "recorded"
	case AckQueued:
		return "queued"
	}
	return fmt.Sprintf("AckOutcome(%d)", int(o))
}

// maxAckBatch bounds the deliveries one transaction commits, so a flood
// still answers the first of them promptly.
const maxAckBatch = 256

// errStoreClosed answers acks that arrive after Close.
var errStoreClosed = errors.New("store is closed")

// ackRequest is one Ack waiting for the writer.
type ackRequest struct {
	ack     Ack
	payload string // the job, encoded by the caller rather than the writer
	// state moves from pending to taken (the writer owns it and will
	// answer) or to abandoned (the caller gave up first, so it is never
	// written): a delivery is never committed after its caller was told
	// it failed.
	state atomic.Int32
	done  chan ackAnswer
}

const (
	ackPending int32 = iota
	ackTaken
	ackAbandoned
)

type ackAnswer struct {
	outcome AckOutcome
	err     error
}

// ackWriter group-commits acks: one goroutine takes every pending ack,
// writes them in one transaction and commits once, then answers each.
// Concurrent deliveries share the cost of a commit instead of queueing
// for the write lock one transaction at a time.
type ackWriter struct {
	db            *sql.DB
	firstDelivery *sql.Stmt
	enqueueOnce   map[JobKind]*sql.Stmt
	enqueue       *sql.Stmt
	recordMerge   *sql.Stmt

	// checkpointer copies the WAL into the database on a connection of
	// its own (the ack connection never checkpoints: a checkpoint's
	// writes and fsyncs inside an ack's commit were the ack path's
	// slowest percentile); checkpoint asks it to, every checkpointEvery
	// commits.
	checkpointer  *sql.DB
	checkpoint    chan struct{}
	ckptStopped   chan struct{}
	restart       atomic.Bool
	restartFrames int

	reqs chan *ackRequest
	// sent counts acks handed to the writer and commits the transactions
	// that wrote them, each for one or more acks.
	sent, commits atomic.Int64
	closing       chan struct{}
	stopped       chan struct{}
	once          sync.Once
}

const (
	enqueueSQL     = `INSERT INTO jobs(kind, repo, pr, sha, payload, status, created, updated) VALUES (?,?,?,?,?,?,?,?)`
	recordMergeSQL = `INSERT OR REPLACE INTO merges(repo, sha, pr, head_sha, merged_by) VALUES (?,?,?,?,?)`
)

// checkpointEvery is how many ack commits pass between checkpoints: about
// SQLite's own 1,000-page default, at a few pages per commit.
const checkpointEvery = 256

func newAckWriter(ctx context.Context, db, checkpointer *sql.DB) (*ackWriter, error) {
	w := &ackWriter{db: db, checkpointer: checkpointer, checkpoint: make(chan struct{}, 1), ckptStopped: make(chan struct{}), restartFrames: restartFrames,
		reqs: make(chan *ackRequest, maxAckBatch), closing: make(chan struct{}), stopped: make(chan struct{})}
	prepare := func(dst **sql.Stmt, q string) error {
		var err error
		*dst, err = db.PrepareContext(ctx, q)
		return err
	}
	err := errors.Join(prepare(&w.firstDelivery, firstDeliverySQL), prepare(&w.enqueue, enqueueSQL), prepare(&w.recordMerge, recordMergeSQL))
	w.enqueueOnce = map[JobKind]*sql.Stmt{}
	for _, k := range jobKinds {
		var st *sql.Stmt
		err = errors.Join(err, prepare(&st, enqueueOnceSQL(k)))
		w.enqueueOnce[k] = st
	}
	if err != nil {
		w.closeStmts()
		return nil, fmt.Errorf("prepare store statements: %w", err)
	}
	go w.run()
	go w.checkpoints()
	return w, nil
}

// restartFrames is the WAL length (in pages) past which the ack writer
// restarts the WAL itself. A passive checkpoint never waits for the
// writer, so under a steady stream of acks it never catches up with the
// WAL's end, and SQLite starts a WAL over only when a checkpoint has:
// without this the WAL would grow without bound. About 32 MiB.
const restartFrames = 8000

// checkpoints runs a passive checkpoint whenever asked: the ack connection
// goes on committing meanwhile. When the WAL is still longer than
// restartFrames after it, the writer is asked to restart the WAL (it holds
// the write lock anyway, and what is left to copy is what was written
// during the passive run). A failed checkpoint is retried at the next
// request; the runner's connection checkpoints too.
func (w *ackWriter) checkpoints() {
	defer close(w.ckptStopped)
	// The runner's connection may be busy for as long as a transaction
	// of its own takes: closing must not wait for it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-w.closing:
			return
		case <-w.checkpoint:
		}
		var busy, frames, copied int
		err := w.checkpointer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if err == nil && frames >= w.restartFrames {
			w.restart.Store(true)
		}
	}
}

func (w *ackWriter) closeStmts() {
	for _, st := range append([]*sql.Stmt{w.firstDelivery, w.enqueue, w.recordMerge}, slices.Collect(maps.Values(w.enqueueOnce))...) {
		if st != nil {
			st.Close()
		}
	}
}

// close stops the writer after the batch it is writing; acks still
// queued are answered with an error, never written.
func (w *ackWriter) close() {
	w.once.Do(func() {
		close(w.closing)
		<-w.stopped
		<-w.ckptStopped
		for {
			select {
			case r := <-w.reqs:
				if r.state.CompareAndSwap(ackPending, ackTaken) {
					r.done <- ackAnswer{err: errStoreClosed}
				}
			default:
				w.closeStmts()
				return
			}
		}
	})
}

// AckDelivery records a delivery and its work in one transaction shared
// with the other deliveries being acknowledged at the same moment. It
// returns once that transaction is committed, so whatever it reports
// survives a crash right after.
func (s *SQLite) AckDelivery(ctx context.Context, a Ack) (AckOutcome, error) {
	r := &ackRequest{ack: a, done: make(chan ackAnswer, 1)}
	if a.Job != nil {
		payload, err := json.Marshal(a.Job)
		if err != nil {
			return 0, fmt.Errorf("encode job: %w", err)
		}
		r.payload = string(payload)
	}
	w := s.acks
	select {
	case w.reqs <- r:
		w.sent.Add(1)
	case <-w.closing:
		return 0, fmt.Errorf("%s: %w", a.what(), errStoreClosed)
	case <-ctx.Done():
		return 0, fmt.Errorf("%s: %w", a.what(), ctx.Err())
	}
	var gaveUp error
	select {
	case ans := <-r.done:
		return ans.outcome, ans.err
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-w.stopped:
		gaveUp = errStoreClosed
	}
	if r.state.CompareAndSwap(ackPending, ackAbandoned) {
		return 0, fmt.Errorf("%s: %w", a.what(), gaveUp)
	}
	// The writer has it: its answer is the truth, and it comes after one
	// commit at most.
	ans := <-r.done
	return ans.outcome, ans.err
}

func (w *ackWriter) run() {
	defer close(w.stopped)
	batch := make([]*ackRequest, 0, maxAckBatch)
	for {
		select {
		case <-w.closing:
			return
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		}
	drain:
		for len(batch) < maxAckBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		w.commit(batch)
		clear(batch)
		if w.restart.CompareAndSwap(true, false) {
			w.restartWAL()
		}
	}
}

// restartWAL copies the rest of the WAL and starts it over. RESTART waits
// for readers of the WAL to finish: acks wait at most 100 ms for them,
// not the connection's 10 s; a busy or failed one leaves the WAL long and
// the next checkpoint asks again.
func (w *ackWriter) restartWAL() {
	ctx := context.Background()
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 100"); err != nil {
		return
	}
	conn.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
	conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMS))
}

// commit writes batch in one transaction and answers every request in it.
// When the shared transaction fails, each request is retried in one of its
// own, so a bad ack fails alone.
func (w *ackWriter) commit(batch []*ackRequest) {
	taken := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(ackPending, ackTaken) {
			taken = append(taken, r)
		}
	}
	if len(taken) == 0 {
		return
	}
	// Nothing here is cancelled by a caller: once taken, an ack is written
	// or failed on its own terms. busy_timeout bounds the wait for the lock.
	ctx := context.Background()
	outcomes, err := w.write(ctx, taken)
	if err == nil {
		for i, r := range taken {
			r.done <- ackAnswer{outcome: outcomes[i]}
		}
		return
	}
	if len(taken) == 1 {
		taken[0].done <- ackAnswer{err: err}
		return
	}
	for _, r := range taken {
		one, err := w.write(ctx, []*ackRequest{r})
		if err != nil {
			r.done <- ackAnswer{err: err}
			continue
		}
		r.done <- ackAnswer{outcome: one[0]}
	}
}

func (w *ackWriter) write(ctx context.Context, reqs []*ackRequest) ([]AckOutcome, error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("acknowledge deliveries: begin: %w", err)
	}
	defer tx.Rollback()
	st := ackStmts{
		firstDelivery: tx.StmtContext(ctx, w.firstDelivery),
		enqueueOnce:   w.enqueueOnce,
		tx:            tx,
		enqueue:       tx.StmtContext(ctx, w.enqueue),
		recordMerge:   tx.StmtContext(ctx, w.recordMerge),
	}
	outcomes := make([]AckOutcome, len(reqs))
	for i, r := range reqs {
		if outcomes[i], err = st.apply(ctx, r); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("acknowledge deliveries: commit: %w", err)
	}
	if w.commits.Add(1)%checkpointEvery == 0 {
		select {
		case w.checkpoint <- struct{}{}:
		default:
		}
	}
	return outcomes, nil
}

// ackStmts are the writer's statements bound to one transaction.
type ackStmts struct {
	firstDelivery, enqueue, recordMerge *sql.Stmt
	// enqueueOnce are bound to tx when used: most acks need none of them.
	enqueueOnce map[JobKind]*sql.Stmt
	tx          *sql.Tx
}

func (st ackStmts) apply(ctx context.Context, r *ackRequest) (AckOutcome, error) {
	a := r.ack
	t := now()
	if a.Delivery != "" {
		n, err := rowsAffected(st.firstDelivery.ExecContext(ctx, a.Delivery, t))
		if err != nil {
			return 0, fmt.Errorf("record delivery %s: %w", a.Delivery, err)
		}
		if n == 0 {
			return AckDuplicate, nil
		}
	}
	if m := a.Merge; m != nil {
		if _, err := st.recordMerge.ExecContext(ctx, m.Repo, m.SHA, m.PR, m.HeadSHA, m.MergedBy); err != nil {
			return 0, fmt.Errorf("record merge %s: %w", m.SHA, err)
		}
	}
	j := a.Job
	if j == nil {
		return AckRecorded, nil
	}
	key := jobKey(*j)
	var n int64
	var err error
	switch a.Enqueue {
	case EnqueueOnce:
		once, ok := st.enqueueOnce[j.Kind]
		if !ok {
			return 0, fmt.Errorf("enqueue %s job for %s: unknown job kind", j.Kind, j.Repo.FullName)
		}
		n, err = rowsAffected(st.tx.StmtContext(ctx, once).ExecContext(ctx,
			j.Kind, j.Repo.FullName, j.PR, key, r.payload, StatusQueued, t, t,
			j.Repo.FullName, j.PR, key))
	default:
		n, err = rowsAffected(st.enqueue.ExecContext(ctx, j.Kind, j.Repo.FullName, j.PR, key, r.payload, StatusQueued, t, t))
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue %s job for %s: %w", j.Kind, j.Repo.FullName, err)
	}
	if n == 0 {
		return AckRecorded, nil
	}
	return AckQueued, nil
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
