package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// The drift gauges and the last-check-age histogram come from the store's
// schedule, with no label naming a project.
func TestDriftGaugesFollowTheSchedule(t *testing.T) {
	s, err := New(context.Background(), load(t, baseEnv(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx := context.Background()
	now := time.Now()
	var sched []store.DriftCheck
	for _, p := range []string{"a", "b", "c", "never"} {
		sched = append(sched, store.DriftCheck{Repo: "acme/infra", Project: p, Due: now})
	}
	if err := s.store.ScheduleDriftChecks(ctx, sched); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]struct {
		result store.DriftResult
		age    time.Duration
	}{"a": {store.DriftInSync, 2 * time.Minute}, "b": {store.DriftDrifted, 3 * time.Hour}, "c": {store.DriftErrored, 30 * time.Hour}} {
		if err := s.store.FinishDriftCheck(ctx, store.DriftCheck{Repo: "acme/infra", Project: p, Due: now.Add(time.Hour), LastChecked: now.Add(-c.age), Result: c.result}, now); err != nil {
			t.Fatal(err)
		}
	}
	s.loadGauges(ctx)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"tfpr_drift_projects_checked 3", "tfpr_drift_projects_drifted 1", "tfpr_drift_projects_erroring 1",
		`tfpr_drift_last_check_age_seconds_bucket{le="300"} 1`, `tfpr_drift_last_check_age_seconds_bucket{le="14400"} 2`,
		`tfpr_drift_last_check_age_seconds_bucket{le="86400"} 2`, `tfpr_drift_last_check_age_seconds_bucket{le="+Inf"} 3`,
		"tfpr_drift_last_check_age_seconds_count 3",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `project="`) {
		t.Error("a metric carries a project label")
	}
}
