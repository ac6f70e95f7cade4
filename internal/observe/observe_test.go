package observe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tfpr/tfpr/internal/logctx"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

func TestARunIsCountedLoggedAndItsLogClosed(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	logs := runlog.New(runlog.Limits{})
	o := &Observer{Metrics: m, Logs: logs, PublicURL: "https://tfpr.example"}
	var buf bytes.Buffer
	log := slog.New(logctx.NewHandler(slog.NewJSONHandler(&buf, nil)))

	ctx := logctx.With(context.Background(), "delivery", "d-9", "repo", "acme/infra", "pr", 3)
	ctx, run := o.Start(ctx, 17, metrics.KindApply, "microservices/alpha/dev", time.Now().Add(-2*time.Second))
	log.InfoContext(ctx, "apply started")
	logs.Append(17, "Apply complete!") // as the worker's log stream does
	run.Finish(store.StatusFailed, &terraform.Error{Command: "apply", Err: errors.New("exit status 1")})
	run.Finish(store.StatusSucceeded, nil) // a second call changes nothing

	for _, want := range []string{`"delivery":"d-9"`, `"repo":"acme/infra"`, `"pr":3`, `"project":"microservices/alpha/dev"`, `"run":17`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line lacks %s: %s", want, buf.String())
		}
	}
	if lines, _ := logs.Lines(17); len(lines) != 2 || lines[0] != "Apply complete!" || !logs.Finished(17) {
		t.Errorf("run log = %q finished=%v", lines, logs.Finished(17))
	}
	want := `
# HELP tfpr_runs_total Runs finished, by kind (lint, plan, apply, drift) and outcome (succeeded, failed: the code's fault, errored: tfpr's or a dependency's, cancelled).
# TYPE tfpr_runs_total counter
`
	for _, k := range metrics.Kinds {
		for _, oc := range metrics.Outcomes {
			n := 0
			if k == metrics.KindApply && oc == metrics.OutcomeFailed {
				n = 1
			}
			want += fmt.Sprintf("tfpr_runs_total{kind=%q,outcome=%q} %d\n", k, oc, n)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tfpr_runs_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "tfpr_run_queued_seconds"); n != 4 {
		t.Errorf("queued histogram series = %d", n)
	}
	if got := o.URL(17); got != "https://tfpr.example/runs/17" {
		t.Errorf("URL = %q", got)
	}
	var none *Observer
	if none.URL(17) != "" {
		t.Error("no observer, yet a URL")
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		status store.Status
		err    error
		want   metrics.Outcome
	}{
		{store.StatusSucceeded, nil, metrics.OutcomeSucceeded},
		{store.StatusDenied, nil, metrics.OutcomeFailed},
		{store.StatusFailed, &terraform.Error{Command: "plan", Err: errors.New("exit status 1")}, metrics.OutcomeFailed},
		{store.StatusFailed, fmt.Errorf("worker: %w", terraform.ErrFailed), metrics.OutcomeFailed},
		{store.StatusFailed, fmt.Errorf("post check run: %w", errors.New("502 Bad Gateway")), metrics.OutcomeErrored},
		{store.StatusFailed, fmt.Errorf("plan: %w", context.Canceled), metrics.OutcomeCancelled},
		{store.StatusCancelled, nil, metrics.OutcomeCancelled},
	} {
		if got := Outcome(c.status, c.err); got != c.want {
			t.Errorf("Outcome(%s, %v) = %s, want %s", c.status, c.err, got, c.want)
		}
	}
}
