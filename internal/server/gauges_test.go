package server

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// Queue depth, busy workers, the oldest running apply and blocked projects
// come from the store, so they hold whatever executor runs the work.
func TestQueueAndBlockGaugesFollowTheStore(t *testing.T) {
	s, err := New(context.Background(), load(t, baseEnv(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx := context.Background()
	repo := store.Repo{FullName: "acme/infra"}
	for i := range 3 {
		if _, err := s.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: repo, PR: i + 1, HeadSHA: "abc"}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	id, _, err := s.store.CreateRun(ctx, store.Run{Kind: "apply", Repo: "acme/infra", Project: "microservices/alpha/dev", SHA: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.StartRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.store.BlockProject(ctx, store.Block{Repo: "acme/infra", Project: "microservices/beta/dev", RunID: id, Issue: 4, Reason: "apply failed"}); err != nil {
		t.Fatal(err)
	}
	s.loadGauges(ctx)

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"tfpr_queue_depth 3", "tfpr_workers_busy 1", "tfpr_applies_blocked 1"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, name := range []string{"tfpr_apply_running_oldest_timestamp_seconds", "tfpr_applies_blocked_oldest_timestamp_seconds"} {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("/metrics lacks %s", name)
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		if at := time.Unix(int64(v), 0); at.Before(before.Add(-2*time.Second)) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s = %v (%v), want about now", name, v, at)
		}
	}
}
