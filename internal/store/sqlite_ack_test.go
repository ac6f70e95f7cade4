package store

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A delivery is recorded and its job queued while the runner's connection
// is busy with a long read (a page walking its rows): the webhook's ack
// never waits behind the runner's queries. Both writes are durable once
// they return.
func TestAckWritesDoNotWaitForTheRunnersQueries(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	for i := range 3 {
		if _, err := s.FirstDelivery(ctx, fmt.Sprintf("seed-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no rows to hold the runner's connection with")
	}
	ackCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	first, err := s.FirstDelivery(ackCtx, "d-1")
	if err != nil || !first {
		t.Fatalf("record a delivery while the runner reads: first %v, %v", first, err)
	}
	job := Job{Kind: JobPR, Repo: Repo{FullName: "acme/infra"}, PR: 7, HeadSHA: "abc123"}
	if queued, err := s.EnqueueJobOnce(ackCtx, job); err != nil || !queued {
		t.Fatalf("queue its job while the runner reads: queued %v, %v", queued, err)
	}
	rows.Close()

	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if first, err := s2.FirstDelivery(ctx, "d-1"); err != nil || first {
		t.Errorf("after a restart the acknowledged delivery is new again (%v, %v)", first, err)
	}
	if pending, err := s2.PendingJob(ctx, JobPR, "acme/infra", 7, "abc123"); err != nil || !pending {
		t.Errorf("after a restart the acknowledged delivery's job is gone (%v, %v)", pending, err)
	}
}

// Concurrent deliveries, on the ack path's connection, are each first once.
func TestConcurrentDeliveriesAreFirstOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	const ids, copies = 50, 4
	var mu sync.Mutex
	firsts := map[string]int{}
	var wg sync.WaitGroup
	for c := range copies {
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("d-%d", i)
				first, err := s.FirstDelivery(ctx, id)
				if err != nil {
					t.Errorf("copy %d of %s: %v", c, id, err)
				}
				if first {
					mu.Lock()
					firsts[id]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for i := range ids {
		if id := fmt.Sprintf("d-%d", i); firsts[id] != 1 {
			t.Errorf("%s was first %d times, want once", id, firsts[id])
		}
	}
}

// Deliveries acknowledged while a commit is under way share the next one:
// 200 concurrent acks (50 deliveries, each sent 4 times, for 5 PR heads)
// take a handful of commits, and each delivery is still first exactly once
// and each head queued exactly once.
func TestAcksShareACommitAndStayExactlyOnce(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	// Another writer holds the lock, as the runner does now and then: acks
	// arriving meanwhile queue up for the writer.
	hold, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(ctx, `DELETE FROM deliveries WHERE id = 'none'`); err != nil {
		t.Fatal(err)
	}
	const ids, copies, heads = 50, 4, 5
	var (
		mu       sync.Mutex
		firsts   = map[string]int{}
		outcomes = map[AckOutcome]int{}
		wg       sync.WaitGroup
	)
	for c := range copies {
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("d-%d", i)
				job := &Job{Kind: JobPR, Repo: Repo{FullName: "acme/infra"}, PR: 7, HeadSHA: fmt.Sprintf("head-%d", i%heads)}
				out, err := s.AckDelivery(ctx, Ack{Delivery: id, Job: job, Enqueue: EnqueueOnce})
				if err != nil {
					t.Errorf("copy %d of %s: %v", c, id, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				outcomes[out]++
				if out != AckDuplicate {
					firsts[id]++
				}
			}()
		}
	}
	// Every ack is with the writer, which waits for the lock.
	waitSent(t, s, ids*copies)
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range ids {
		if id := fmt.Sprintf("d-%d", i); firsts[id] != 1 {
			t.Errorf("%s was first %d times, want once", id, firsts[id])
		}
	}
	if outcomes[AckQueued] != heads || outcomes[AckRecorded] != ids-heads || outcomes[AckDuplicate] != ids*(copies-1) {
		t.Errorf("outcomes %v, want %d queued, %d recorded, %d duplicate", outcomes, heads, ids-heads, ids*(copies-1))
	}
	// The writer's first batch holds what it found when it began to wait
	// for the lock; all the others share the next commit.
	if n := s.acks.commits.Load(); n > 2 {
		t.Errorf("%d acks took %d commits, want them to share 2", ids*copies, n)
	}
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var queued int
	if err := s2.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE status = ?`, StatusQueued).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != heads {
		t.Errorf("after a restart %d jobs are queued, want %d (one per head)", queued, heads)
	}
}

// An ack whose job cannot be written fails alone, and leaves no trace: its
// delivery is not recorded, so GitHub's redelivery is taken, while the acks
// that shared its transaction are committed.
func TestFailedAckRecordsNothingAndFailsAlone(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.repo = 'acme/broken'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	hold, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(ctx, `DELETE FROM deliveries WHERE id = 'none'`); err != nil {
		t.Fatal(err)
	}
	repos := []string{"acme/a", "acme/broken", "acme/b", "acme/c"}
	errs := make([]error, len(repos))
	var wg sync.WaitGroup
	for i, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job := &Job{Kind: JobMerge, Repo: Repo{FullName: repo}, SHA: "abc"}
			_, errs[i] = s.AckDelivery(ctx, Ack{Delivery: "d-" + repo, Job: job})
		}()
	}
	waitSent(t, s, int64(len(repos)))
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, repo := range repos {
		switch {
		case repo == "acme/broken" && (errs[i] == nil || !strings.Contains(errs[i].Error(), "enqueue merge job for acme/broken") || !strings.Contains(errs[i].Error(), "refused")):
			t.Errorf("ack for %s: error %v, want it to say the job was refused", repo, errs[i])
		case repo != "acme/broken" && errs[i] != nil:
			t.Errorf("ack for %s failed with the broken one: %v", repo, errs[i])
		}
		first, err := s.FirstDelivery(ctx, "d-"+repo)
		if err != nil {
			t.Fatal(err)
		}
		if want := repo == "acme/broken"; first != want {
			t.Errorf("delivery for %s new again: %v, want %v", repo, first, want)
		}
	}
}

// waitSent waits until n acks are with s's writer.
func waitSent(t *testing.T, s *SQLite, n int64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); s.acks.sent.Load() < n; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d acks reached the writer", s.acks.sent.Load(), n)
		}
	}
}

// An ack after Close fails at once with an error saying so, rather than
// waiting for a writer that is gone.
func TestAckAfterCloseFails(t *testing.T) {
	s, _ := open(t)
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.AckDelivery(ctx, Ack{Delivery: "d-late"})
	if err == nil || !strings.Contains(err.Error(), "acknowledge delivery d-late: store is closed") {
		t.Fatalf("ack after close: %v, want it to say the store is closed", err)
	}
}

// The ack connection never checkpoints (a checkpoint inside an ack's
// commit made the ack path's slowest percentile), yet the WAL stays
// bounded while acks alone write: the writer asks for a checkpoint on the
// other connection every checkpointEvery commits.
func TestAcksNeverCheckpointYetTheWALStaysBounded(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	var auto int
	if err := s.ackDB.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("the ack connection checkpoints every %d pages (%v), want never", auto, err)
	}
	s.acks.restartFrames = 500 // a shorter WAL than in production: fewer acks show the bound
	const acks = 4000
	for i := range acks {
		job := &Job{Kind: JobPR, Repo: Repo{FullName: "acme/infra"}, PR: i, HeadSHA: fmt.Sprintf("%040x", i)}
		if _, err := s.AckDelivery(ctx, Ack{Delivery: fmt.Sprintf("d-%d", i), Job: job}); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Unchecked, these acks leave a WAL of about 100 MiB.
	if fi.Size() > 16<<20 {
		t.Errorf("the WAL holds %d bytes after %d acks, want at most 16 MiB", fi.Size(), acks)
	}
	t.Logf("WAL after %d acks: %d bytes", acks, fi.Size())
}

// A checkpoint waiting for the runner's connection, busy with a long
// transaction, does not hold up closing the ack writer.
func TestCloseDoesNotWaitForACheckpoint(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	conn, err := s.db.Conn(ctx) // the runner's only connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waits := s.db.Stats().WaitCount
	s.acks.checkpoint <- struct{}{}
	for s.db.Stats().WaitCount == waits {
		runtime.Gosched()
	}
	closed := make(chan struct{})
	go func() {
		s.acks.close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("closing the ack writer waited for the runner's connection")
	}
}
