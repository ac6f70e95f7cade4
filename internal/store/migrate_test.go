package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// A store made before the migrations (base schema only) is upgraded in
// place, keeps its rows, and reopening it is a no-op.
func TestMigrationUpgradesAnOldStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tfpr.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO runs(kind, repo, project, sha, status, approved_by, created) VALUES ('apply','r','p','s','failed','carol',1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 {
		s, err := OpenSQLite(ctx, path)
		if err != nil {
			t.Fatalf("open old store: %v", err)
		}
		runs, err := s.ListRuns(ctx, "apply", 5)
		s.Close()
		if err != nil || len(runs) != 1 || runs[0].ApprovedBy != "carol" || runs[0].RetriedBy != "" {
			t.Fatalf("runs after migration = %+v, %v", runs, err)
		}
	}
}

func TestRetryIsNotAnApproval(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	id, _, err := s.CreateRun(ctx, Run{Kind: "apply", Repo: "r", Project: "p", SHA: "s1", Status: StatusFailed})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SetRunStatus(ctx, id, []Status{StatusFailed}, StatusQueued, Release{User: "olga", Kind: Retried}); err != nil || !ok {
		t.Fatalf("retry: %v %v", ok, err)
	}
	r, _ := s.GetRun(ctx, id)
	if r.RetriedBy != "olga" || r.ApprovedBy != "" {
		t.Fatalf("after a retry: retried by %q, approved by %q", r.RetriedBy, r.ApprovedBy)
	}
	r.Status, r.HeldDigest = StatusWaiting, "d1"
	if err := s.FinishApply(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.SetRunStatus(ctx, id, []Status{StatusWaiting}, StatusQueued, Release{User: "carol", Kind: ApprovedPlan}); !ok {
		t.Fatal("release of a held run did not move it")
	}
	r, _ = s.GetRun(ctx, id)
	if r.ApprovedBy != "carol" || r.RetriedBy != "olga" || r.HeldDigest != "d1" {
		t.Fatalf("after approval of the held plan: %+v", r)
	}
	if _, err := s.SetRunStatus(ctx, id, []Status{StatusQueued}, StatusFailed, Release{User: "x"}); err == nil {
		t.Fatal("a release of no kind was accepted")
	}
}

func TestPlansSeenAndApprovalsKeepTheirPlans(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	save := func(project, head string) {
		if _, err := s.SavePlan(ctx, Plan{Repo: "r", PR: 1, Project: project, HeadSHA: head, Digest: project + "@" + head}); err != nil {
			t.Fatal(err)
		}
	}
	save("a", "h1")
	save("b", "h1")
	seenAt := time.Now()
	for time.Now().UnixMilli() <= seenAt.UnixMilli() {
		runtime.Gosched() // created is in milliseconds: the next plan must be strictly later
	}
	save("a", "h2")
	plans, err := s.PlansSeen(ctx, "r", 1, seenAt)
	if err != nil || len(plans) != 2 || plans[0].HeadSHA != "h1" || plans[1].HeadSHA != "h1" || plans[0].Digest != "a@h1" {
		t.Fatalf("PlansSeen = %+v, %v; want both plans at h1", plans, err)
	}
	if now, _ := s.PlansSeen(ctx, "r", 1, time.Now()); len(now) != 2 || now[0].HeadSHA != "h2" {
		t.Fatalf("PlansSeen now = %+v, want a at h2", now)
	}
	if err := s.Approve(ctx, Approval{Repo: "r", PR: 1, HeadSHA: "h1", Rule: "TFPR102", User: "carol", Plans: map[string]string{"a": "a@h1"}}); err != nil {
		t.Fatal(err)
	}
	as, err := s.Approvals(ctx, "r", 1, "h1")
	if err != nil || len(as) != 1 || as[0].Plans["a"] != "a@h1" {
		t.Fatalf("Approvals = %+v, %v", as, err)
	}
}

func TestRetryKeepsAttemptsAndBackoff(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	id, _, err := s.CreateRun(ctx, Run{Kind: "apply", Repo: "r", Project: "p", SHA: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.RetryRun(ctx, id, 1, at, "retry 1: disk full"); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRun(ctx, id)
	if err != nil || r.Status != StatusQueued || r.Attempts != 1 || !r.NotBefore.Equal(at) || r.Summary != "retry 1: disk full" {
		t.Fatalf("after a retry: %+v, %v", r, err)
	}
	next, err := s.NextApplies(ctx)
	if err != nil || len(next) != 1 || next[0].Attempts != 1 || !next[0].NotBefore.Equal(at) {
		t.Fatalf("next applies = %+v, %v", next, err)
	}
}
