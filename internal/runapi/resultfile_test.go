package runapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
)

// A run whose terraform took longer than the grace period, within its
// budget, is recorded: refusing it would leave the run open forever.
func TestLongCommandWithinBudgetIsRecorded(t *testing.T) {
	r := newRig(t, "", nil)
	id, tok := openRun(t, r) // one hour from now: a budget of 45 minutes
	file := []byte("plan file")
	res := runspec.Result{RunID: id, Stage: runspec.Plan, Status: runspec.Succeeded, Finished: time.Now(),
		Exits: []runspec.Exit{{Command: "plan", Took: 16 * time.Minute}},
		Plan:  &runspec.PlanResult{HasChanges: true, Add: 1, JSON: []byte(`{"format_version":"1.2"}`), File: file, SHA256: runspec.SHA256(file)}}
	body, _ := json.Marshal(res)
	if got := call(t, r, "POST", id, "result", tok, body); got != http.StatusOK {
		t.Fatalf("a 16-minute plan in a 45-minute budget answered %d, want 200", got)
	}
	res.Exits[0].Took = 2 * time.Hour
	res.RunID = 0
	if err := res.Validate(runspec.Spec{RunID: 0, Stage: runspec.Plan, Budget: 45 * time.Minute}); err == nil {
		t.Fatal("a command longer than budget and grace was accepted")
	}
}

// The run directory is writable from inside the sandbox: a result file
// there counts only when the worker sealed it with the run's token.
func TestResultFileMustBeSealedByTheWorker(t *testing.T) {
	r := newRig(t, "", nil)
	ctx := context.Background()
	id, tok := openRun(t, r)
	wr := mustGet(t, r, id)
	dir := r.d.RunDir(id)
	os.MkdirAll(dir, 0o700)
	file := []byte("plan file")
	body := planResult(id, file, runspec.SHA256(file))

	forged, _ := runspec.SealResult(runspec.TokenHash("tfprrun_guessed"), body)
	os.WriteFile(filepath.Join(dir, runspec.ResultFile), forged, 0o600)
	if ok, err := r.d.takeResultFile(ctx, wr); ok || !errors.Is(err, runspec.ErrUnsealed) {
		t.Fatalf("a result file sealed without the run's token: taken %v, %v", ok, err)
	}
	os.WriteFile(filepath.Join(dir, runspec.ResultFile), body, 0o600) // bare, as before sealing
	if ok, err := r.d.takeResultFile(ctx, wr); ok || err == nil {
		t.Fatalf("a bare result file was taken (%v, %v)", ok, err)
	}
	if wr := mustGet(t, r, id); wr.Result != "" || wr.State != store.WorkerStarted {
		t.Fatalf("a forged result was recorded: %+v", wr)
	}

	sealed, _ := runspec.SealResult(runspec.TokenHash(tok), body)
	os.WriteFile(filepath.Join(dir, runspec.ResultFile), sealed, 0o600)
	if ok, err := r.d.takeResultFile(ctx, wr); !ok || err != nil {
		t.Fatalf("the worker's sealed result file: taken %v, %v", ok, err)
	}
	if wr := mustGet(t, r, id); wr.State != store.WorkerReported {
		t.Fatalf("state %s after the sealed result was taken", wr.State)
	}
}

// A private key a provider prints spans lines: the stream is masked whole,
// so its body never reaches the runs page.
func TestLogStreamMasksKeysAcrossLines(t *testing.T) {
	r := newRig(t, "", nil)
	r.d.mask = redact.String // as the server sets it
	id, tok := openRun(t, r)
	body := "      + key = <<-EOT\n          -----BEGIN RSA PRIVATE KEY-----\n          MIIEowIBAAKCAQEAsecretsecretsecret\n          c2VjcmV0c2VjcmV0c2VjcmV0\n          -----END RSA PRIVATE KEY-----\n      EOT\nPlan: 1 to add\n"
	if got := call(t, r, "POST", id, "log", tok, []byte(body)); got != http.StatusNoContent {
		t.Fatalf("log post answered %d", got)
	}
	lines, _ := r.logs.Lines(runlog.RunID(1))
	text := strings.Join(lines, "\n")
	if strings.Contains(text, "MIIEowIBAAKCAQEA") || strings.Contains(text, "c2VjcmV0c2VjcmV0") || !strings.Contains(text, "Plan: 1 to add") {
		t.Fatalf("the run's log shows the key's body or lost the plan:\n%s", text)
	}
}
