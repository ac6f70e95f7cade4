package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every phase of a PR's plan, from the installation token to the report,
// is timed once: one line with its duration in the run's log (the runs
// page) and one observation in tfpr_run_phase_seconds.
func TestEveryPhaseOfAPlanIsTimedOnce(t *testing.T) {
	h := start(t, map[string]string{"TFPR_PUBLIC_URL": "https://tfpr.acme.example"})
	seed(t, h.repo)
	head := h.repo.Commit(t, "alpha-phases", map[string]string{"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-phases"
}
`}, "alpha: phases")
	h.repo.OpenPR(t, 1, "alpha-phases", "dev-alice")
	began := time.Now()
	h.gh.DeliverID(t, h.url, h.secret, "pull_request", "phases-delivery-1", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 3*time.Minute, "the plan comment", func() bool { return len(h.commentsContaining(1, "tfpr plan")) > 0 })
	cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head)
	m := regexp.MustCompile(`/runs/(\d+)$`).FindStringSubmatch(cr.DetailsURL)
	if !ok || m == nil {
		t.Fatalf("plan check run %+v links no run", cr)
	}
	var page string
	eventually(t, time.Minute, "the report phase in the run's log", func() bool {
		page = h.httpGet(t, "/runs/"+m[1])
		return strings.Contains(page, "tfpr: phase report took ")
	})
	wall := time.Since(began)

	want := []string{"token", "fetch", "checkout", "scan", "lint", "bundle", "worker_start", "init", "plan", "show", "report"}
	took := map[string][]time.Duration{}
	for _, sm := range regexp.MustCompile(`tfpr: phase (\w+) took (\S+)`).FindAllStringSubmatch(page, -1) {
		d, err := time.ParseDuration(sm[2])
		if err != nil {
			t.Errorf("phase %s: duration %q: %v", sm[1], sm[2], err)
		}
		took[sm[1]] = append(took[sm[1]], d)
	}
	var terraform time.Duration
	for _, p := range want {
		ds := took[p]
		if len(ds) != 1 {
			t.Errorf("phase %s appears %d times in the run's log, want once", p, len(ds))
			continue
		}
		if ds[0] < 0 || ds[0] > wall {
			t.Errorf("phase %s took %s, outside [0, %s] (webhook to report)", p, ds[0], wall)
		}
		if p == "init" || p == "plan" || p == "show" {
			if ds[0] <= 0 {
				t.Errorf("terraform %s took %s", p, ds[0])
			}
			terraform += ds[0]
		}
	}
	if len(took) != len(want) {
		t.Errorf("the run's log times phases %v, want exactly %v", took, want)
	}
	if terraform > wall {
		t.Errorf("terraform's phases add up to %s, longer than the whole run (%s)", terraform, wall)
	}
	metrics := h.httpGet(t, "/metrics")
	for _, p := range want {
		if s := `tfpr_run_phase_seconds_count{phase="` + p + `"} 1`; !strings.Contains(metrics, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}
