// Package metrics is tfpr's Prometheus instrumentation: the work it does
// (runs by kind and outcome, their duration and time queued) first, then
// the resources and dependencies it needs (queue, workers, GitHub, GCS,
// git, terraform). Every label takes values from a closed set, so no PR
// number, SHA, path or user-supplied text can grow the series.
//
// A nil *Metrics records nothing, so components and their tests need no
// registry. Webhook deliveries are counted by the webhook package on the
// same registry (tfpr_webhook_deliveries_total, tfpr_webhook_duration_seconds).
package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kind is what a run does.
type Kind string

const (
	KindLint  Kind = "lint"
	KindPlan  Kind = "plan"
	KindApply Kind = "apply"
	KindDrift Kind = "drift"
)

// Kinds lists every Kind, for pre-created series.
var Kinds = []Kind{KindLint, KindPlan, KindApply, KindDrift}

// Outcome is how a run ended.
type Outcome string

const (
	// OutcomeSucceeded: the run did what it was asked.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeFailed: the code under review failed (a policy denial, a
	// terraform error in the configuration): the user's to fix.
	OutcomeFailed Outcome = "failed"
	// OutcomeErrored: tfpr or a dependency failed (GitHub, GCS, git, the
	// store): the operator's to fix. Alerts are on this one.
	OutcomeErrored Outcome = "errored"
	// OutcomeCancelled: shutdown or a newer push took the run away.
	OutcomeCancelled Outcome = "cancelled"
)

// Outcomes lists every Outcome.
var Outcomes = []Outcome{OutcomeSucceeded, OutcomeFailed, OutcomeErrored, OutcomeCancelled}

// Command is a terraform subcommand tfpr runs.
type Command string

const (
	CommandInit        Command = "init"
	CommandPlan        Command = "plan"
	CommandApply       Command = "apply"
	CommandShow        Command = "show"
	CommandForceUnlock Command = "force_unlock"
	CommandOther       Command = "other"
)

// CommandOf maps a terraform command line's name ("show -json",
// "force-unlock") to its Command.
func CommandOf(name string) Command {
	verb, _, _ := strings.Cut(name, " ")
	switch verb {
	case "init":
		return CommandInit
	case "plan":
		return CommandPlan
	case "apply":
		return CommandApply
	case "show":
		return CommandShow
	case "force-unlock":
		return CommandForceUnlock
	}
	return CommandOther
}

// runBuckets resolve p90/p95 from one second to an hour.
var runBuckets = []float64{1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600}

// queuedBuckets start lower: a healthy queue hands work on in milliseconds.
var queuedBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// Metrics holds every tfpr series except the webhook's.
type Metrics struct {
	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	runQueued     *prometheus.HistogramVec
	queueDepth    prometheus.Gauge
	workersBusy   prometheus.Gauge
	workers       prometheus.Gauge
	githubCalls   *prometheus.CounterVec
	rateRemaining prometheus.Gauge
	rateLimit     prometheus.Gauge
	gcsErrors     *prometheus.CounterVec
	gitErrors     *prometheus.CounterVec
	tfExits       *prometheus.CounterVec
	adopted       prometheus.Counter
	lost          prometheus.Counter
	blocked       prometheus.Gauge
	blockedOldest prometheus.Gauge
	applyOldest   prometheus.Gauge
	ready         prometheus.Gauge
	readyCheck    *prometheus.GaugeVec
	drift         *driftMetrics
	phases        *prometheus.HistogramVec
}

// New creates tfpr's series and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfpr_runs_total", Help: "Runs finished, by kind (lint, plan, apply, drift) and outcome (succeeded, failed: the code's fault, errored: tfpr's or a dependency's, cancelled).",
		}, []string{"kind", "outcome"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tfpr_run_duration_seconds", Help: "Time a run took from start to its result, by kind.", Buckets: runBuckets,
		}, []string{"kind"}),
		runQueued: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tfpr_run_queued_seconds", Help: "Time a run waited between being queued and starting, by kind.", Buckets: queuedBuckets,
		}, []string{"kind"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_queue_depth", Help: "Runs queued and not started.",
		}),
		workersBusy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_workers_busy", Help: "Terraform runs in progress.",
		}),
		workers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_workers", Help: "Terraform runs allowed at once (TFPR_PARALLELISM).",
		}),
		githubCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfpr_github_requests_total", Help: "GitHub API calls, by route class and HTTP status class (2xx, 3xx, 4xx, 5xx, error).",
		}, []string{"route", "code"}),
		rateRemaining: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_github_rate_limit_remaining", Help: "Requests left in the GitHub rate-limit window, as of the last response.",
		}),
		rateLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_github_rate_limit", Help: "Size of the GitHub rate-limit window, as of the last response.",
		}),
		gcsErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfpr_gcs_errors_total", Help: "Failed GCS calls, by operation.",
		}, []string{"op"}),
		gitErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfpr_git_errors_total", Help: "Failed git operations against GitHub, by operation.",
		}, []string{"op"}),
		tfExits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tfpr_terraform_exits_total", Help: "Terraform processes finished, by command and exit code (0, 1, 2, other, signal).",
		}, []string{"command", "code"}),
		adopted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfpr_runs_adopted_total", Help: "Terraform runs started by an earlier server process and found alive (or finished) by this one.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tfpr_runs_lost_total", Help: "Terraform runs whose worker died without a result.",
		}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_applies_blocked", Help: "Projects whose applies are blocked by a failed apply until someone unblocks them.",
		}),
		blockedOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_applies_blocked_oldest_timestamp_seconds", Help: "When the longest-blocked project was blocked (Unix time); 0 when none is.",
		}),
		applyOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_apply_running_oldest_timestamp_seconds", Help: "When the longest-running apply started (Unix time); 0 when none runs.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tfpr_ready", Help: "1 when every readiness check passes, else 0.",
		}),
		readyCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tfpr_readiness_check_ok", Help: "1 when the named readiness check passed at its last run, else 0.",
		}, []string{"check"}),
		drift:  newDriftMetrics(),
		phases: newPhaseHistogram(),
	}
	for _, c := range append([]prometheus.Collector{m.runs, m.runDuration, m.runQueued, m.queueDepth, m.workersBusy, m.workers,
		m.githubCalls, m.rateRemaining, m.rateLimit, m.gcsErrors, m.gitErrors, m.tfExits, m.adopted, m.lost, m.blocked, m.blockedOldest,
		m.applyOldest, m.ready, m.readyCheck, m.phases}, m.drift.collectors()...) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	// Series that alerts divide by exist from the start, so a rate is 0,
	// not absent, before the first run.
	for _, k := range Kinds {
		for _, o := range Outcomes {
			m.runs.WithLabelValues(string(k), string(o))
		}
		m.runDuration.WithLabelValues(string(k))
		m.runQueued.WithLabelValues(string(k))
	}
	return m, nil
}

// RunStarted records a run leaving the queue after waiting queued.
func (m *Metrics) RunStarted(kind Kind, queued time.Duration) {
	if m == nil {
		return
	}
	m.runQueued.WithLabelValues(string(kind)).Observe(queued.Seconds())
}

// RunFinished records a run's outcome and how long it ran.
func (m *Metrics) RunFinished(kind Kind, outcome Outcome, took time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(string(kind), string(outcome)).Inc()
	m.runDuration.WithLabelValues(string(kind)).Observe(took.Seconds())
}

// SetQueue records how much work waits, how many runs are in progress
// and how many may run at once.
func (m *Metrics) SetQueue(queued, busy, capacity int) {
	if m == nil {
		return
	}
	m.queueDepth.Set(float64(queued))
	m.workersBusy.Set(float64(busy))
	m.workers.Set(float64(capacity))
}

// TerraformExit records a finished terraform process by its exit code, as
// the worker that ran it reported: 0, 1 and 2 as they are, a negative code
// (killed, not started) as "signal", anything else as "other".
func (m *Metrics) TerraformExit(cmd Command, code int) {
	if m == nil {
		return
	}
	m.tfExits.WithLabelValues(string(cmd), exitLabel(code)).Inc()
}

func exitLabel(code int) string {
	switch {
	case code < 0:
		return "signal"
	case code <= 2:
		return strconv.Itoa(code)
	}
	return "other"
}

// RunAdopted counts a worker run an earlier server started that this one
// found alive or finished.
func (m *Metrics) RunAdopted() {
	if m != nil {
		m.adopted.Inc()
	}
}

// RunLost counts a worker run that died without a result.
func (m *Metrics) RunLost() {
	if m != nil {
		m.lost.Inc()
	}
}

// SetBlocked records how many projects are blocked and since when the
// oldest one is (zero time: none).
func (m *Metrics) SetBlocked(n int, oldest time.Time) {
	if m == nil {
		return
	}
	m.blocked.Set(float64(n))
	m.blockedOldest.Set(unix(oldest))
}

// SetOldestRunningApply records when the longest-running apply started
// (zero time: none runs).
func (m *Metrics) SetOldestRunningApply(started time.Time) {
	if m == nil {
		return
	}
	m.applyOldest.Set(unix(started))
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// GCSOp is a kind of GCS call.
type GCSOp string

const (
	GCSRead   GCSOp = "read"
	GCSWrite  GCSOp = "write"
	GCSDelete GCSOp = "delete"
	// GCSProbe is the readiness check's look at the state bucket.
	GCSProbe GCSOp = "probe"
)

// GCSError counts a failed GCS call.
func (m *Metrics) GCSError(op GCSOp) {
	if m == nil {
		return
	}
	m.gcsErrors.WithLabelValues(string(op)).Inc()
}

// GitOp is a git operation against GitHub.
type GitOp string

const GitFetch GitOp = "fetch"

// GitError counts a failed git operation against GitHub.
func (m *Metrics) GitError(op GitOp) {
	if m == nil {
		return
	}
	m.gitErrors.WithLabelValues(string(op)).Inc()
}

// SetReady records the readiness checks' results: each named check's
// state and whether all passed.
func (m *Metrics) SetReady(checks map[string]bool) {
	if m == nil {
		return
	}
	all := 1.0
	for name, ok := range checks {
		v := 0.0
		if ok {
			v = 1
		} else {
			all = 0
		}
		m.readyCheck.WithLabelValues(name).Set(v)
	}
	m.ready.Set(all)
}
