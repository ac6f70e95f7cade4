package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// The webhook's ack path writes twice per delivery: its id (dedupe), then
// its job. Alone, each write is a transaction of its own and a turn at the
// store's one connection, so concurrent deliveries queue behind each
// other's commits. The committer takes every ack-path write waiting at the
// moment and commits them in one transaction. A statement that fails
// undoes only its own changes (SQLite's statement journal), so one failing
// write fails alone; an error that ends the transaction fails the commit,
// and with it every write of the group. A write returns only after
// its transaction committed: a delivery acknowledged is one recorded, and
// survives a crash of tfpr.

// maxGroup bounds the writes one commit carries, so a burst cannot make
// one transaction hold the write lock for long.
const maxGroup = 64

var errStoreClosed = errors.New("store is closed")

type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

type committer struct {
	db      *sql.DB
	writes  chan groupWrite
	stop    chan struct{}
	stopped chan struct{}
	closing sync.Once
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, writes: make(chan groupWrite), stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

func (c *committer) run() {
	defer close(c.stopped)
	for {
		var first groupWrite
		select {
		case first = <-c.writes:
		case <-c.stop:
			return
		}
		group := []groupWrite{first}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-c.writes:
				group = append(group, w)
			default:
				break more
			}
		}
		c.commit(group)
	}
}

// commit runs group in one transaction and tells each write how it went.
func (c *committer) commit(group []groupWrite) {
	errs := make([]error, len(group))
	err := func() error {
		// Each write has its own deadline; the transaction is bounded by
		// the store's busy timeout.
		tx, err := c.db.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for i, w := range group {
			errs[i] = w.fn(w.ctx, tx)
		}
		return tx.Commit()
	}()
	for i, w := range group {
		if err != nil {
			errs[i] = fmt.Errorf("commit: %w", err)
		}
		w.done <- errs[i]
	}
}

// write runs fn in the next group commit and returns once that committed
// (or failed). It waits for the outcome even when ctx ends first, so the
// caller never reports a write as failed that was in fact recorded.
func (c *committer) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := groupWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errStoreClosed
	}
	return <-w.done
}

// close stops the committer after the group in progress.
func (c *committer) close() {
	c.closing.Do(func() { close(c.stop) })
	<-c.stopped
}
