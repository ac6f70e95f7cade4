package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tfpr.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestDeliveriesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	if first, err := s.FirstDelivery(ctx, "d1"); err != nil || !first {
		t.Fatalf("first delivery: %v %v", first, err)
	}
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if first, _ := s2.FirstDelivery(ctx, "d1"); first {
		t.Fatal("redelivery after restart was taken as new")
	}
	if err := s2.ForgetDelivery(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	if first, _ := s2.FirstDelivery(ctx, "d1"); !first {
		t.Fatal("forgotten delivery not accepted again")
	}
}

func TestApplyOncePerProjectAndCommit(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	var wg sync.WaitGroup
	created := make(chan bool, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c, err := s.CreateRun(ctx, Run{Kind: "apply", Repo: "a/b", Project: "p", SHA: "abc"})
			if err != nil {
				t.Error(err)
			}
			created <- c
		}()
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("apply created %d times, want once", n)
	}
	// Plans are not unique: a re-plan of the same commit is a new run.
	for i := 0; i < 2; i++ {
		if _, c, err := s.CreateRun(ctx, Run{Kind: "plan", Repo: "a/b", Project: "p", SHA: "abc"}); err != nil || !c {
			t.Fatalf("plan run %d: created=%v err=%v", i, c, err)
		}
	}
}

func TestNextAppliesKeepsProjectOrderAndBlocks(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	mk := func(project, sha string) int64 {
		id, _, err := s.CreateRun(ctx, Run{Kind: "apply", Repo: "a/b", Project: project, SHA: sha})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	p1a, p1b, p2a := mk("p1", "c1"), mk("p1", "c2"), mk("p2", "c1")
	next, err := s.NextApplies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(next); !equal(got, []int64{p1a, p2a}) {
		t.Fatalf("next = %v, want [%d %d]", got, p1a, p2a)
	}
	if err := s.StartRun(ctx, p1a); err != nil {
		t.Fatal(err)
	}
	next, _ = s.NextApplies(ctx)
	if got := ids(next); !equal(got, []int64{p2a}) {
		t.Fatalf("with p1 running next = %v, want only p2", got)
	}
	s.FinishRun(ctx, p1a, StatusFailed, "boom")
	if err := s.BlockProject(ctx, Block{Repo: "a/b", Project: "p1", RunID: p1a, Issue: 9, Reason: "apply failed"}); err != nil {
		t.Fatal(err)
	}
	next, _ = s.NextApplies(ctx)
	if got := ids(next); !equal(got, []int64{p2a}) {
		t.Fatalf("blocked p1 still scheduled: %v", got)
	}
	if b, err := s.BlockByIssue(ctx, "a/b", 9); err != nil || b.Project != "p1" {
		t.Fatalf("block by issue: %+v %v", b, err)
	}
	s.Unblock(ctx, "a/b", "p1")
	next, _ = s.NextApplies(ctx)
	if got := ids(next); !equal(got, []int64{p1b, p2a}) {
		t.Fatalf("after unblock next = %v, want [%d %d]", got, p1b, p2a)
	}
	if _, err := s.Blocked(ctx, "a/b", "p1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blocked after unblock: %v", err)
	}
}

func TestJobsClaimAndRequeue(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	for i := 1; i <= 3; i++ {
		if _, err := s.EnqueueJob(ctx, Job{Kind: JobPR, Repo: Repo{FullName: "a/b"}, PR: i, HeadSHA: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := s.ClaimJobs(ctx, 2)
	if err != nil || len(jobs) != 2 || jobs[0].PR != 1 || jobs[1].PR != 2 || jobs[0].Repo.FullName != "a/b" {
		t.Fatalf("claim: %+v %v", jobs, err)
	}
	if again, _ := s.ClaimJobs(ctx, 5); len(again) != 1 || again[0].PR != 3 {
		t.Fatalf("second claim: %+v", again)
	}
	s.FinishJob(ctx, jobs[0].ID, StatusSucceeded, "")
	n, err := s.RequeueInterrupted(ctx)
	if err != nil || n != 2 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	if ok, _ := s.PendingJob(ctx, JobPR, "a/b", 2, "h"); !ok {
		t.Fatal("requeued job not pending")
	}
}

func TestPlansAndMerges(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	for _, sha := range []string{"h1", "h2"} {
		if _, err := s.SavePlan(ctx, Plan{Repo: "a/b", PR: 7, Project: "p", HeadSHA: sha, File: sha + ".tfplan"}); err != nil {
			t.Fatal(err)
		}
	}
	s.SavePlan(ctx, Plan{Repo: "a/b", PR: 8, Project: "p", HeadSHA: "x"})
	p, err := s.LatestPlan(ctx, "a/b", 7, "p")
	if err != nil || p.HeadSHA != "h2" {
		t.Fatalf("latest: %+v %v", p, err)
	}
	others, _ := s.OpenPlansFor(ctx, "a/b", "p", 7)
	if len(others) != 1 || others[0].PR != 8 {
		t.Fatalf("open plans for p except #7: %+v", others)
	}
	s.RecordMerge(ctx, Merge{Repo: "a/b", SHA: "m8", PR: 8})
	if others, _ := s.OpenPlansFor(ctx, "a/b", "p", 7); len(others) != 0 {
		t.Fatalf("a merged PR still competes for the project: %+v", others)
	}
	gone, _ := s.DeletePlans(ctx, "a/b", 7, "")
	if len(gone) != 2 {
		t.Fatalf("deleted %d plans, want 2", len(gone))
	}
	if _, err := s.LatestPlan(ctx, "a/b", 7, "p"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("plan still there: %v", err)
	}
	s.RecordMerge(ctx, Merge{Repo: "a/b", SHA: "m", PR: 7, MergedBy: "octo"})
	if m, err := s.MergeFor(ctx, "a/b", "m"); err != nil || m.PR != 7 || m.MergedBy != "octo" {
		t.Fatalf("merge: %+v %v", m, err)
	}
}

func ids(runs []Run) []int64 {
	var out []int64
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPruneKeepsPendingWork(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	s.FirstDelivery(ctx, "old")
	done, _ := s.EnqueueJob(ctx, Job{Kind: JobPR, Repo: Repo{FullName: "a/b"}, PR: 1, HeadSHA: "x"})
	s.FinishJob(ctx, done, StatusSucceeded, "")
	s.EnqueueJob(ctx, Job{Kind: JobPR, Repo: Repo{FullName: "a/b"}, PR: 2, HeadSHA: "y"})
	n, err := s.Prune(ctx, time.Now().Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the delivery and the finished job", n, err)
	}
	if first, _ := s.FirstDelivery(ctx, "old"); !first {
		t.Fatal("pruned delivery still remembered")
	}
	if pending, _ := s.PendingJob(ctx, JobPR, "a/b", 2, "y"); !pending {
		t.Fatal("prune dropped a queued job")
	}
}
