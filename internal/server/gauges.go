package server

import (
	"context"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/store"
)

// gaugeInterval is how often the queue and block gauges are read from the
// store: the store is the one record of queued and running work, whichever
// executor runs it.
const gaugeInterval = 10 * time.Second

// refreshGauges keeps the queue, worker, block and drift gauges current
// until ctx ends.
func (s *Server) refreshGauges(ctx context.Context) {
	t := time.NewTicker(gaugeInterval)
	defer t.Stop()
	for {
		s.loadGauges(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) loadGauges(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	g, err := s.store.LoadGauges(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("metrics: read queue gauges", "err", err)
		}
		return
	}
	s.metrics.SetQueue(g.QueuedJobs+g.QueuedRuns, g.RunningRuns, s.cfg.Parallelism)
	s.metrics.SetBlocked(g.Blocked, millis(g.OldestBlock))
	s.metrics.SetOldestRunningApply(millis(g.OldestRunningApply))
	checks, err := s.store.DriftChecks(ctx, "")
	if err != nil {
		s.log.Warn("metrics: read the drift schedule", "err", err)
		return
	}
	s.metrics.SetDrift(driftSnapshot(checks, time.Now()))
}

// driftSnapshot summarises the drift schedule for the metrics.
func driftSnapshot(checks []store.DriftCheck, now time.Time) metrics.DriftSnapshot {
	var d metrics.DriftSnapshot
	for _, c := range checks {
		if c.LastChecked.IsZero() {
			continue
		}
		d.Checked++
		d.Ages = append(d.Ages, now.Sub(c.LastChecked))
		switch c.Result {
		case store.DriftDrifted:
			d.Drifted++
		case store.DriftErrored:
			d.Erroring++
		}
	}
	return d
}

func millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
