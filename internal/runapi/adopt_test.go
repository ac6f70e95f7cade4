package runapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

// gatedTerraform holds `terraform apply` until the test creates gate/go,
// after saying so in gate/applying.
func gatedTerraform(t *testing.T, gate string) string {
	script := filepath.Join(t.TempDir(), "terraform")
	os.WriteFile(script, []byte(`#!/bin/sh
if [ "$1" = apply ]; then
  touch `+gate+`/applying
  while [ ! -f `+gate+`/go ]; do sleep 0.05; done
fi
exec `+testenv.Terraform(t)+` "$@"
`), 0o755)
	return script
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startOrphanApply plans alpha, then starts its apply and abandons it the
// way a dying server does: the dispatcher stops waiting and the endpoint
// goes away while terraform is about to apply.
func startOrphanApply(t *testing.T, r *rig, gate string) store.WorkerRun {
	t.Helper()
	return startOrphan(t, r, gate, alphaSA)
}

// startOrphan is startOrphanApply with the account the run impersonates
// ("" where the executor gives the run its identity).
func startOrphan(t *testing.T, r *rig, gate, account string) store.WorkerRun {
	t.Helper()
	req := planReq("microservices/alpha/dev", account)
	req.Root = r.root
	res, err := r.d.Run(context.Background(), req)
	if err != nil || res.Status != runspec.Succeeded {
		t.Fatalf("plan: %v %+v", err, res)
	}
	req.Stage, req.Plan = runspec.Apply, res.Plan.File
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := r.d.Run(ctx, req); done <- err }()
	eventually(t, "the apply to start", func() bool { _, err := os.Stat(filepath.Join(gate, "applying")); return err == nil })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned run returned %v", err)
	}
	r.srv.Close()
	open, err := r.store.OpenWorkerRuns(context.Background())
	if err != nil || len(open) != 1 || open[0].Stage != "apply" {
		t.Fatalf("open runs after the server stopped: %v %+v", err, open)
	}
	return open[0]
}

func TestRestartAdoptsRunningApply(t *testing.T) {
	gate := t.TempDir()
	r := newRig(t, gatedTerraform(t, gate), []executor.Bind{{Path: gate, RW: true}})
	wr := startOrphanApply(t, r, gate)

	r.restart()
	began := time.Now()
	found, err := r.d.Inspect(context.Background(), wr)
	if err != nil || found != Alive {
		t.Fatalf("restarted server found the running apply %v (%v), want alive", found, err)
	}
	t.Logf("restart to adoption: %s", time.Since(began))
	os.WriteFile(filepath.Join(gate, "go"), nil, 0o600)
	res, err := r.d.Wait(context.Background(), wr)
	if err != nil || res.Status != runspec.Succeeded || !strings.Contains(res.Output, "Apply complete!") {
		t.Fatalf("adopted apply: %v %+v", err, res)
	}
	if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); !strings.Contains(string(st), `"alpha"`) {
		t.Fatalf("state after the adopted apply:\n%s", st)
	}
	if got := r.counter("tfpr_runs_adopted_total"); got != 1 {
		t.Fatalf("tfpr_runs_adopted_total = %v", got)
	}
}

func TestRestartFindsKilledWorkerDead(t *testing.T) {
	gate := t.TempDir()
	r := newRig(t, gatedTerraform(t, gate), []executor.Bind{{Path: gate, RW: true}})
	wr := startOrphanApply(t, r, gate)
	var h executor.Handle
	json.Unmarshal([]byte(wr.Handle), &h)
	syscall.Kill(h.PID, syscall.SIGKILL)
	eventually(t, "the worker to die", func() bool { ok, _ := r.exec.Alive(context.Background(), h); return !ok })

	r.restart()
	found, err := r.d.Inspect(context.Background(), wr)
	if err != nil || found != Dead {
		t.Fatalf("restarted server found the killed apply %v (%v), want dead", found, err)
	}
	if got := r.counter("tfpr_runs_lost_total"); got != 1 {
		t.Fatalf("tfpr_runs_lost_total = %v", got)
	}
	if w := mustGet(t, r, wr.ID); w.State != store.WorkerClosed {
		t.Fatalf("dead run left %s", w.State)
	}
	if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); strings.Contains(string(st), `"alpha"`) {
		t.Fatalf("the killed apply reached the state:\n%s", st)
	}
}
