package runapi

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/testenv"
)

// planGatedTerraform holds `terraform plan` until gate/go exists, after
// init has run and printed.
func planGatedTerraform(t *testing.T, gate string) string {
	script := filepath.Join(t.TempDir(), "terraform")
	os.WriteFile(script, []byte(`#!/bin/sh
if [ "$1" = plan ]; then
  touch `+gate+`/planning
  while [ ! -f `+gate+`/go ]; do sleep 0.05; done
fi
exec `+testenv.Terraform(t)+` "$@"
`), 0o755)
	return script
}

// A sandboxed worker's terraform output reaches the run's log while the
// run is still going, masked, under the tfpr run it belongs to; the
// result's terraform exits are counted by the server.
func TestWorkerLogStreamsIntoTheRunsLogLive(t *testing.T) {
	gate := t.TempDir()
	r := newRig(t, planGatedTerraform(t, gate), []executor.Bind{{Path: gate, RW: true}})
	token := "ya29." + strings.Repeat("s", 40)
	writeProject(t, r.root, "microservices/gamma/dev", token)
	req := planReq("microservices/gamma/dev", alphaSA)
	req.Root = r.root
	done := make(chan error, 1)
	go func() {
		res, err := r.d.Run(context.Background(), req)
		if err == nil && res.Status != runspec.Succeeded {
			err = fmt.Errorf("plan %s: %s", res.Status, res.Error)
		}
		done <- err
	}()

	log := func() string {
		lines, _ := r.logs.Lines(runlog.RunID(req.RunID))
		return strings.Join(lines, "\n")
	}
	eventually(t, "init's output in the run's log", func() bool { return strings.Contains(log(), "Initializing the backend") })
	select {
	case err := <-done:
		t.Fatalf("the run ended (%v) before its plan was let go: the log was not live", err)
	default:
	}
	// init's output can arrive before plan reaches its gate; the run cannot
	// end before the gate opens either way.
	eventually(t, "plan held at its gate", func() bool {
		_, err := os.Stat(filepath.Join(gate, "planning"))
		return err == nil
	})
	os.WriteFile(filepath.Join(gate, "go"), nil, 0o600)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	text := log()
	if !strings.Contains(text, "Plan: 1 to add") || !strings.Contains(text, "terraform_data.x will be created") {
		t.Errorf("the run's log lacks the plan:\n%s", text)
	}
	if strings.Contains(text, "ya29.") || !strings.Contains(text, redact.Placeholder) {
		t.Errorf("the token terraform printed is not masked in the run's log:\n%s", text)
	}
	for _, cmd := range []string{"init", "plan", "show"} {
		if n := r.counter("tfpr_terraform_exits_total", "command", cmd, "code", "0"); n != 1 {
			t.Errorf(`tfpr_terraform_exits_total{command=%q,code="0"} = %v, want 1`, cmd, n)
		}
	}
}
