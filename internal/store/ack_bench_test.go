package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkAckDelivery is the store's share of a webhook ack: 8 deliveries
// at a time, each recording its id and asking for a job already queued
// (the common redelivery-free case of a busy PR).
func BenchmarkAckDelivery(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "tfpr.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	job := &Job{Kind: JobPR, Repo: Repo{FullName: "acme/infra"}, PR: 1, HeadSHA: fmt.Sprintf("%040x", 1)}
	if _, err := s.AckDelivery(ctx, Ack{Delivery: "seed", Job: job, Enqueue: EnqueueOnce}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("d-%d", n.Add(1))
			if _, err := s.AckDelivery(ctx, Ack{Delivery: id, Job: job, Enqueue: EnqueueOnce}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
