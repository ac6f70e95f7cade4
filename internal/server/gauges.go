package server

import (
	"context"
	"time"
)

// gaugeInterval is how often the queue and block gauges are read from the
// store: the store is the one record of queued and running work, whichever
// executor runs it.
const gaugeInterval = 10 * time.Second

// refreshGauges keeps the queue, worker and block gauges current until ctx
// ends.
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
}

func millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
