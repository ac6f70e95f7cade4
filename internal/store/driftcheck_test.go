package store

import (
	"context"
	"testing"
	"time"
)

// The drift schedule survives a restart: what was checked, what it found
// and which issue it keeps, and a request made while a check ran.
func TestDriftScheduleSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	t0 := time.UnixMilli(1_700_000_000_000)
	if err := s.ScheduleDriftChecks(ctx, []DriftCheck{{Repo: "o/r", Project: "a", Due: t0}, {Repo: "o/r", Project: "b", Due: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	// Scheduling again keeps the existing schedule.
	if err := s.ScheduleDriftChecks(ctx, []DriftCheck{{Repo: "o/r", Project: "a", Due: t0.Add(5 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	started := t0.Add(time.Minute)
	if err := s.RequestDriftCheck(ctx, "o/r", "b", started.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a", "b"} {
		if err := s.FinishDriftCheck(ctx, DriftCheck{Repo: "o/r", Project: p, Due: t0.Add(24 * time.Hour), LastChecked: started.Add(time.Minute),
			Result: DriftDrifted, Summary: "+1 ~0 -0", SHA: "abc", Issue: 7}, started); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.DriftChecks(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("drift checks after reopen = %+v, %v", all, err)
	}
	a, b := all[0], all[1]
	if !a.Due.Equal(t0.Add(24*time.Hour)) || a.Result != DriftDrifted || a.Issue != 7 || a.SHA != "abc" || !a.Requested.IsZero() {
		t.Errorf("project a after its check: %+v", a)
	}
	if b.Requested.IsZero() {
		t.Errorf("a request made while b's check ran was dropped: %+v", b)
	}
	got, err := s.DriftCheckByIssue(ctx, "o/r", 7)
	if err != nil || got.Issue != 7 {
		t.Fatalf("by issue: %+v, %v", got, err)
	}
	if err := s.SetDriftIssue(ctx, "o/r", "a", 0, DriftInSync); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.DriftCheckOf(ctx, "o/r", "a"); a.Issue != 0 || a.Result != DriftInSync {
		t.Errorf("after closing a's issue: %+v", a)
	}
	if err := s.UnscheduleDriftCheck(ctx, "o/r", "b"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.DriftChecks(ctx, "o/r"); len(all) != 1 {
		t.Errorf("after unscheduling b: %+v", all)
	}
}

// A reconcile applies a commit already applied: it is one more apply,
// once per asking comment.
func TestReconcileIsOneApplyPerRequest(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	merge, created, err := s.CreateRun(ctx, Run{Kind: "apply", Repo: "o/r", Project: "p", SHA: "s1", Status: StatusSucceeded})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	rec := Run{Kind: "apply", Repo: "o/r", Project: "p", SHA: "s1", ReconciledBy: "carol", Issue: 9, RequestKey: "comment 42"}
	id, created, err := s.CreateRun(ctx, rec)
	if err != nil || !created || id == merge {
		t.Fatalf("reconcile of an applied commit: id %d (merge %d), created %v, %v", id, merge, created, err)
	}
	again, created, err := s.CreateRun(ctx, rec)
	if err != nil || created || again != id {
		t.Fatalf("the same request again: id %d, created %v, %v; want %d, false", again, created, err, id)
	}
	r, err := s.GetRun(ctx, id)
	if err != nil || r.ReconciledBy != "carol" || r.Issue != 9 {
		t.Fatalf("reconcile run = %+v, %v", r, err)
	}
}

// Drift checks yield to PR and apply work; a blocked project's queued
// applies are not work that can run.
func TestPendingWork(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	count := func() int {
		n, err := s.PendingWork(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("empty store: %d", n)
	}
	if _, _, err := s.CreateRun(ctx, Run{Kind: "apply", Repo: "o/r", Project: "p", SHA: "s1"}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("one queued apply: %d", n)
	}
	if err := s.BlockProject(ctx, Block{Repo: "o/r", Project: "p", Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("the only queued apply is blocked: %d", n)
	}
	if _, err := s.EnqueueJob(ctx, Job{Kind: JobPR, Repo: Repo{FullName: "o/r"}, PR: 1, HeadSHA: "h"}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("one queued PR job: %d", n)
	}
}
