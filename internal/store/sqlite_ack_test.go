package store

import (
	"context"
	"fmt"
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
