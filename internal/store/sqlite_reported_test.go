package store

import (
	"context"
	"testing"
)

// What a living comment showed survives a restart, per project, and one
// comment's results never mix with another's.
func TestReportedResults(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	for _, r := range []Reported{
		{Repo: "acme/infra", PR: 1, Family: "plan", Project: "b", SHA: "s1", Result: `{"v":1}`},
		{Repo: "acme/infra", PR: 1, Family: "plan", Project: "a", SHA: "s1", Result: `{"v":2}`},
		{Repo: "acme/infra", PR: 1, Family: "plan", Project: "b", SHA: "s2", Result: `{"v":3}`},
		{Repo: "acme/infra", PR: 1, Family: "apply abc", Project: "a", SHA: "abc", Result: `{"v":4}`},
		{Repo: "acme/infra", PR: 2, Family: "plan", Project: "a", SHA: "s9", Result: `{"v":5}`},
	} {
		if err := s.SaveReported(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Reported(ctx, "acme/infra", 1, "plan")
	if err != nil || len(got) != 2 || got[0].Project != "a" || got[1].Project != "b" || got[1].SHA != "s2" || got[1].Result != `{"v":3}` {
		t.Fatalf("reported = %+v, %v", got, err)
	}
	if err := s.ForgetReported(ctx, "acme/infra", 1, "plan"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Reported(ctx, "acme/infra", 1, "plan"); len(got) != 0 {
		t.Fatalf("forgotten results remain: %+v", got)
	}
	if got, _ := s.Reported(ctx, "acme/infra", 1, "apply abc"); len(got) != 1 || got[0].Result != `{"v":4}` {
		t.Fatalf("the apply comment's results were touched: %+v", got)
	}
}
