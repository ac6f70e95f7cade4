// Package health answers /healthz and /readyz. Readiness checks run in the
// background on a timer and their results are cached, so a probe costs a
// map read however often the kubelet or a load balancer asks, and a slow
// dependency cannot make the probe itself time out.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/redact"
)

// CheckName names a readiness check in /readyz and in
// tfpr_readiness_check_ok{check}.
type CheckName string

const (
	CheckStore       CheckName = "store"
	CheckPolicies    CheckName = "policies"
	CheckGitHub      CheckName = "github"
	CheckStateBucket CheckName = "state_bucket"
)

// Check is one readiness condition.
type Check struct {
	Name CheckName
	Run  func(ctx context.Context) error
}

// Options tune a Checker.
type Options struct {
	Interval time.Duration // between rounds; 15 s if 0
	Timeout  time.Duration // for each check; 10 s if 0
	Metrics  *metrics.Metrics
	Log      *slog.Logger
}

// result is what one check said last.
type result struct {
	err error
	at  time.Time
}

// Checker runs checks and remembers their last results.
type Checker struct {
	checks []Check
	opts   Options

	mu      sync.RWMutex
	results map[CheckName]result
}

// New returns a Checker that has run nothing yet: not ready until Start's
// first round.
func New(checks []Check, o Options) *Checker {
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Checker{checks: checks, opts: o, results: map[CheckName]result{}}
}

// Start runs a round now and then every interval until ctx ends.
func (c *Checker) Start(ctx context.Context) {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		c.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce runs every check concurrently, each within the timeout, and
// records the results.
func (c *Checker) RunOnce(ctx context.Context) {
	var wg sync.WaitGroup
	res := make([]result, len(c.checks))
	for i, ch := range c.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
			defer cancel()
			res[i] = result{err: runCheck(cctx, ch), at: time.Now()}
		})
	}
	wg.Wait()
	c.mu.Lock()
	oks := map[string]bool{}
	for i, ch := range c.checks {
		prev, seen := c.results[ch.Name]
		c.results[ch.Name] = res[i]
		oks[string(ch.Name)] = res[i].err == nil
		// Log changes only: a failing dependency would otherwise write a
		// line every interval.
		switch {
		case res[i].err != nil && (!seen || prev.err == nil || prev.err.Error() != res[i].err.Error()):
			c.opts.Log.Warn("not ready", "check", string(ch.Name), "err", res[i].err)
		case res[i].err == nil && seen && prev.err != nil:
			c.opts.Log.Info("ready again", "check", string(ch.Name))
		}
	}
	c.mu.Unlock()
	c.opts.Metrics.SetReady(oks)
}

// runCheck returns the check's error, or a timeout error when it outlives
// its context without returning.
func runCheck(ctx context.Context, ch Check) error {
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within the check's timeout: %w", ctx.Err())
	}
}

// Failures lists the failing checks as "name: error", sorted; a check
// that has not run yet fails with "not checked yet".
func (c *Checker) Failures() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for _, ch := range c.checks {
		r, ok := c.results[ch.Name]
		switch {
		case !ok:
			out = append(out, string(ch.Name)+": not checked yet")
		case r.err != nil:
			// Dependency errors can quote what they were sent; mask as logs are.
			out = append(out, redact.String(fmt.Sprintf("%s: %v", ch.Name, r.err)))
		}
	}
	sort.Strings(out)
	return out
}

// Ready answers /readyz from the cached results: 200 "ready", or 503
// naming each failing check and why.
func (c *Checker) Ready(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fails := c.Failures()
	if len(fails) == 0 {
		_, _ = w.Write([]byte("ready\n"))
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("not ready:\n" + strings.Join(fails, "\n") + "\n"))
}

// Alive answers /healthz: the process serves HTTP. It checks nothing else,
// so a failing dependency never gets tfpr restarted in the middle of an
// apply.
func Alive(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
