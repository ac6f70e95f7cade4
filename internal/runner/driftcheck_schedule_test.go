package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

func TestPickDriftChecks(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	dc := func(p string, due, last, requested time.Time) store.DriftCheck {
		return store.DriftCheck{Repo: "o/r", Project: p, Due: due, LastChecked: last, Requested: requested}
	}
	var never time.Time
	tests := []struct {
		name    string
		checks  []store.DriftCheck
		running []string
		free    int
		pending int
		want    string
	}{
		{"nothing due", []store.DriftCheck{dc("a", now.Add(time.Minute), ago(time.Hour), never)}, nil, 1, 0, ""},
		{"due now counts", []store.DriftCheck{dc("a", now, ago(time.Hour), never)}, nil, 1, 0, "a"},
		{"least recently checked first, bounded",
			[]store.DriftCheck{dc("a", ago(time.Minute), ago(2*time.Hour), never), dc("b", ago(time.Minute), ago(5*time.Hour), never),
				dc("c", ago(time.Minute), ago(3*time.Hour), never)}, nil, 2, 0, "b c"},
		{"never checked before checked",
			[]store.DriftCheck{dc("a", ago(time.Minute), ago(time.Hour), never), dc("b", ago(time.Second), never, never)}, nil, 1, 0, "b"},
		{"PR or apply work pending: no check starts",
			[]store.DriftCheck{dc("a", ago(time.Hour), never, never)}, nil, 1, 1, ""},
		{"all slots busy", []store.DriftCheck{dc("a", ago(time.Hour), never, never)}, nil, 0, 0, ""},
		{"a running project is not picked again",
			[]store.DriftCheck{dc("a", ago(time.Hour), never, never), dc("b", ago(time.Minute), ago(time.Hour), never)}, []string{"a"}, 1, 0, "b"},
		{"asked-for checks go first, even when not due",
			[]store.DriftCheck{dc("a", ago(time.Hour), never, never), dc("b", now.Add(time.Hour), ago(time.Minute), ago(time.Second))}, nil, 1, 0, "b"},
		{"asked-for checks wait for PR work too",
			[]store.DriftCheck{dc("b", now.Add(time.Hour), ago(time.Minute), ago(time.Second))}, nil, 1, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			running := map[string]bool{}
			for _, p := range tt.running {
				running[driftKey("o/r", p)] = true
			}
			var got []string
			for _, d := range pickDriftChecks(tt.checks, running, now, tt.free, tt.pending) {
				got = append(got, d.Project)
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("picked %q, want %q", s, tt.want)
			}
		})
	}
}

func TestSyncScheduleSpreadsNewProjectsOverTheInterval(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	scheduled := []store.DriftCheck{{Repo: "o/r", Project: "old", Due: now.Add(-time.Hour)}, {Repo: "o/r", Project: "gone"}}
	added, gone := syncSchedule("o/r", scheduled, []string{"x/d", "old", "x/a", "x/c", "x/b"}, now, 24*time.Hour)
	var got []string
	for _, a := range added {
		got = append(got, a.Project+"@"+a.Due.Sub(now).String())
	}
	if s := strings.Join(got, " "); s != "x/a@0s x/b@6h0m0s x/c@12h0m0s x/d@18h0m0s" {
		t.Errorf("new projects due at %s; want them spread evenly over the interval, the first now", s)
	}
	if len(gone) != 1 || gone[0].Project != "gone" {
		t.Errorf("gone = %+v, want the project no longer on the default branch", gone)
	}
	if added, gone := syncSchedule("o/r", scheduled[:1], []string{"old"}, now, time.Hour); len(added)+len(gone) != 0 {
		t.Errorf("an unchanged repository changed the schedule: %+v %+v", added, gone)
	}
}

func TestOnDriftResult(t *testing.T) {
	tests := []struct {
		result store.DriftResult
		issue  int
		want   driftOutcome
	}{
		{store.DriftInSync, 0, driftKeepQuiet},
		{store.DriftInSync, 4, driftCloseIssue},
		{store.DriftDrifted, 0, driftOpenOrEdit},
		{store.DriftDrifted, 4, driftOpenOrEdit},
		{store.DriftErrored, 0, driftOpenOrEdit},
		{store.DriftUnchecked, 4, driftLeaveIssue},
	}
	for _, tt := range tests {
		if got := onDriftResult(tt.result, tt.issue); got != tt.want {
			t.Errorf("onDriftResult(%q, %d) = %d, want %d", tt.result, tt.issue, got, tt.want)
		}
	}
}
