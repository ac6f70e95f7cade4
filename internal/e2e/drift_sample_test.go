package e2e

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// One drift sweep over the sample monorepo once it is applied: every
// project is checked once, in sync, no issue is opened, and each check is
// one plan (init, plan, show). The test logs what a sweep costs and what
// 1,000 projects would take at the default parallelism of 1.
func TestDriftSweepOfTheSampleMonorepo(t *testing.T) {
	h := start(t, nil)
	sha := seedSample(t, h.repo)
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", zeroSHA, sha))
	eventually(t, 4*time.Minute, "the sample applied", func() bool {
		for _, p := range sampleProjects {
			if cr, ok := h.checkRun("tfpr apply: "+p, sha); !ok || cr.Conclusion != "success" {
				return false
			}
		}
		return true
	})
	plansBefore := h.invocations("plan", "")
	// The seed's applies planned with the lock; from here on only drift
	// checks plan.
	linesBefore := len(h.invocationLines())
	initsBefore := h.invocations("init", "")

	// An interval far shorter than a sweep: every project is due at once,
	// so the sweep runs back to back and its length is the checks' cost.
	h.restart(map[string]string{"TFPR_DRIFT_INTERVAL": "1s"})
	booted := time.Now()
	var done []time.Time
	eventually(t, 4*time.Minute, "every sample project checked", func() bool {
		checks := h.driftChecks()
		done = done[:0]
		for _, p := range sampleProjects {
			d := checks[p]
			if d.LastChecked.IsZero() {
				return false
			}
			done = append(done, d.LastChecked)
		}
		return true
	})
	checks := h.driftChecks()
	for _, p := range sampleProjects {
		if d := checks[p]; d.Result != store.DriftInSync || d.Issue != 0 || d.SHA != sha {
			t.Errorf("%s after its first check: %+v, want in sync at %s with no issue", p, d, sha[:12])
		}
	}
	if is := h.driftIssues(); len(is) != 0 {
		t.Fatalf("an applied sample has drift issues: %+v", is)
	}
	sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
	// Checks run one at a time: the gaps between finishes are whole checks.
	perCheck := done[len(done)-1].Sub(done[0]) / time.Duration(len(done)-1)
	sweep := perCheck * time.Duration(len(sampleProjects))
	plans, inits := h.invocations("plan", "")-plansBefore, h.invocations("init", "")-initsBefore
	// A drift check never holds the state lock an apply needs.
	for _, l := range h.invocationLines()[linesBefore:] {
		if _, args, _ := strings.Cut(l, "|"); strings.HasPrefix(args, "plan ") && !strings.Contains(args, "-lock=false") {
			t.Errorf("a plan took the state lock: %s", l)
		}
	}
	// The sweep goes on (the interval is 1s): one check, at parallelism
	// 1, may be past its init and not yet at its plan.
	if plans < len(sampleProjects) || inits < plans || inits > plans+1 {
		t.Errorf("%d plans and %d inits for %d checks, want one of each per check", plans, inits, len(sampleProjects))
	}
	t.Logf("drift sweep of the sample (%d projects, parallelism 1): %.2fs per check, %.1fs a sweep (first check finished %.1fs after start); "+
		"1,000 projects: %.0f minutes a sweep; terraform per check: init, plan, show",
		len(sampleProjects), perCheck.Seconds(), sweep.Seconds(), done[0].Sub(booted).Seconds(), (perCheck * 1000).Minutes())
}
