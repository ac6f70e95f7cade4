package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/testenv"
)

// A tfpr installed as `make build` and the image install it (tfpr-worker
// beside tfpr, TFPR_WORKER_BIN unset) starts every sandboxed run with the
// lean worker: the process that runs terraform is tfpr-worker.
func TestSandboxedRunsStartTheLeanWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tfpr binary as a server")
	}
	h := &harness{t: t, secret: []byte("lean-secret"), data: t.TempDir(), logDir: t.TempDir()}
	h.gh = githubtest.New(t, githubtest.Options{})
	h.repo = h.gh.AddRepo(t, owner, repoName, installation)
	h.gcs = testenv.FakeGCS(t, bucket)
	// terraform's parent is the worker; the wrapper runs in the sandbox
	// and names it through the sandbox's own /proc. The worker is not
	// dumpable, so its exe link is closed to the wrapper; comm (the name
	// of the file it executed) is not.
	tf := filepath.Join(t.TempDir(), "terraform")
	// The server's own `version` at start is not a run.
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = version ] || cat /proc/$PPID/comm >> %q/worker-comm\nexec %q \"$@\"\n", h.logDir, testenv.Terraform(t))
	if err := os.WriteFile(tf, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h.env = h.serverEnv(tf)
	// As installed: tfpr-worker found beside tfpr, not named.
	delete(h.env, "TFPR_WORKER_BIN")
	seed(t, h.repo)
	h.startProcess(t)
	head := alphaPR(t, h, 1, "lean", "lean-worker")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 3*time.Minute, "the plan's check run", func() bool {
		cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head)
		return ok && cr.Conclusion != ""
	})
	if cr, _ := h.checkRun("tfpr plan: microservices/alpha/dev", head); cr.Conclusion != "success" {
		t.Fatalf("plan check run: %+v, want success", cr)
	}
	raw, err := os.ReadFile(filepath.Join(h.logDir, "worker-comm"))
	if err != nil {
		t.Fatalf("terraform never ran in the sandbox: %v", err)
	}
	names := strings.Fields(string(raw))
	if len(names) == 0 {
		t.Fatal("the wrapper could not name terraform's parent")
	}
	for _, name := range names {
		if name != "tfpr-worker" {
			t.Errorf("terraform ran under %s, want the lean worker tfpr-worker", name)
		}
	}
}
