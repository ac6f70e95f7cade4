package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Phase is one step of a run, from the webhook's job to its report. The
// set is closed, so tfpr_run_phase_seconds has one series per phase.
type Phase uint8

const (
	PhaseToken Phase = iota + 1 // the installation token
	PhaseFetch                  // git fetch of the PR's refs
	PhaseCheckout
	PhaseScan // finding projects and the ones the PR affects
	PhaseLint
	PhaseBundle      // packing the files a worker needs
	PhaseWorkerStart // from launching a worker to its fetching the bundle
	PhaseInit
	PhasePlan
	PhaseShow
	PhaseApply
	PhaseReport // check runs and the PR comment
)

// Phases lists every Phase in the order a plan goes through them.
var Phases = []Phase{PhaseToken, PhaseFetch, PhaseCheckout, PhaseScan, PhaseLint, PhaseBundle, PhaseWorkerStart,
	PhaseInit, PhasePlan, PhaseShow, PhaseApply, PhaseReport}

var phaseNames = map[Phase]string{
	PhaseToken: "token", PhaseFetch: "fetch", PhaseCheckout: "checkout", PhaseScan: "scan", PhaseLint: "lint",
	PhaseBundle: "bundle", PhaseWorkerStart: "worker_start", PhaseInit: "init", PhasePlan: "plan", PhaseShow: "show",
	PhaseApply: "apply", PhaseReport: "report",
}

func (p Phase) String() string {
	if n, ok := phaseNames[p]; ok {
		return n
	}
	return "unknown"
}

// PhaseOf is the phase a terraform command of a worker is, if any.
func PhaseOf(c Command) (Phase, bool) {
	switch c {
	case CommandInit:
		return PhaseInit, true
	case CommandPlan:
		return PhasePlan, true
	case CommandShow:
		return PhaseShow, true
	case CommandApply:
		return PhaseApply, true
	}
	return 0, false
}

// phaseBuckets run from a millisecond (a token from the cache) to ten
// minutes (a big plan): the ack and pre-terraform phases live at the low
// end, terraform's at the high end.
var phaseBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

func newPhaseHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tfpr_run_phase_seconds", Help: "Time each phase of a run took (token, fetch, checkout, scan, lint, bundle, worker_start, init, plan, show, apply, report).",
		Buckets: phaseBuckets,
	}, []string{"phase"})
}

// PhaseTook records that phase p took d.
func (m *Metrics) PhaseTook(p Phase, d time.Duration) {
	if m == nil {
		return
	}
	if _, ok := phaseNames[p]; !ok {
		return
	}
	m.phases.WithLabelValues(p.String()).Observe(d.Seconds())
}
