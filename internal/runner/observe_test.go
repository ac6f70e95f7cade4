package runner

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
)

// A PR's lint and plan and its merge's apply are each observed once: counted
// by kind and outcome, their logs closed on the runs page, and their check
// runs link their page.
func TestRunsAreObservedOnceEach(t *testing.T) {
	h := newHarness(t, Config{})
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	logs := runlog.New(runlog.Limits{})
	h.r.obs = &observe.Observer{Metrics: m, Logs: logs, PublicURL: "https://tfpr.example"}
	h.openPR(t, "v1", "")
	h.mergePR(t, "v1")

	want := map[[2]string]float64{{"lint", "succeeded"}: 1, {"plan", "succeeded"}: 1, {"apply", "succeeded"}: 1}
	for _, k := range metrics.Kinds {
		for _, o := range metrics.Outcomes {
			got := runsTotal(t, reg, string(k), string(o))
			if got != want[[2]string{string(k), string(o)}] {
				t.Errorf("tfpr_runs_total{kind=%q,outcome=%q} = %v, want %v", k, o, got, want[[2]string{string(k), string(o)}])
			}
		}
	}
	applies := h.applyRun(t, 4, store.StatusSucceeded)
	if len(applies) != 1 {
		t.Fatalf("applies = %+v", applies)
	}
	links := map[string]bool{}
	h.gh.mu.Lock()
	for _, cr := range h.gh.checks {
		if cr.DetailsURL != "" {
			links[cr.Name+" "+cr.DetailsURL] = true
		}
	}
	h.gh.mu.Unlock()
	var plan, apply bool
	for l := range links {
		plan = plan || strings.HasPrefix(l, "tfpr plan: "+projA+" https://tfpr.example/runs/")
		apply = apply || l == "tfpr apply: "+projA+" https://tfpr.example/runs/"+strconv.FormatInt(applies[0].ID, 10)
	}
	if !plan || !apply {
		t.Errorf("check runs link no run page for the plan (%v) or the apply (%v): %v", plan, apply, links)
	}
	if !logs.Finished(runlog.RunID(applies[0].ID)) {
		t.Error("the apply's log on the runs page is still open")
	}
}

// runsTotal reads tfpr_runs_total{kind,outcome} from reg.
func runsTotal(t *testing.T, reg *prometheus.Registry, kind, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tfpr_runs_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range s.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["kind"] == kind && l["outcome"] == outcome {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}
