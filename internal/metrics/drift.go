package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// driftAgeBuckets span a check just made to one a week overdue (seconds):
// with the default daily interval, ages past 86400 are late checks.
var driftAgeBuckets = []float64{60, 300, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 129600, 172800, 604800}

// DriftSnapshot is the drift schedule as of one reading of the store.
type DriftSnapshot struct {
	Checked, Drifted, Erroring int
	// Ages are the times since each checked project's last check.
	Ages []time.Duration
}

// driftMetrics are gauges of the projects' drift state and a histogram of
// their last checks' ages, both set whole from each reading: a histogram
// of the current ages, not of every reading, so no label names a project.
type driftMetrics struct {
	checked, drifted, erroring prometheus.Gauge
	ages                       *ageHistogram
}

func newDriftMetrics() *driftMetrics {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	return &driftMetrics{
		checked:  gauge("tfpr_drift_projects_checked", "Default-branch projects checked for drift at least once."),
		drifted:  gauge("tfpr_drift_projects_drifted", "Projects whose last drift check found the infrastructure differing from the default branch."),
		erroring: gauge("tfpr_drift_projects_erroring", "Projects whose last drift check failed (policy, init or plan error)."),
		ages: &ageHistogram{desc: prometheus.NewDesc("tfpr_drift_last_check_age_seconds",
			"Time since each checked project's last drift check, as of the last reading; a project older than TFPR_DRIFT_INTERVAL is overdue.", nil, nil)},
	}
}

func (d *driftMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{d.checked, d.drifted, d.erroring, d.ages}
}

// SetDrift records the drift schedule as last read from the store.
func (m *Metrics) SetDrift(s DriftSnapshot) {
	if m == nil {
		return
	}
	m.drift.checked.Set(float64(s.Checked))
	m.drift.drifted.Set(float64(s.Drifted))
	m.drift.erroring.Set(float64(s.Erroring))
	m.drift.ages.set(s.Ages)
}

// ageHistogram is a histogram replaced whole on each reading.
type ageHistogram struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	count   uint64
	sum     float64
	buckets map[float64]uint64
}

func (h *ageHistogram) set(ages []time.Duration) {
	buckets := make(map[float64]uint64, len(driftAgeBuckets))
	sum := 0.0
	for _, a := range ages {
		s := a.Seconds()
		sum += s
		for _, b := range driftAgeBuckets {
			if s <= b {
				buckets[b]++
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count, h.sum, h.buckets = uint64(len(ages)), sum, buckets
}

func (h *ageHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *ageHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	buckets := make(map[float64]uint64, len(driftAgeBuckets))
	for _, b := range driftAgeBuckets {
		buckets[b] = h.buckets[b]
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, h.count, h.sum, buckets)
}
