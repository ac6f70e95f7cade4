package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// `tfpr drift status` reads the store: every scheduled project with its
// last check, result and issue link; and the audit shows reconciles with
// who asked.
func TestDriftStatusAndReconcileAudit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.RememberRepo(ctx, store.Repo{FullName: "acme/infra", CloneURL: "https://github.com/acme/infra.git", DefaultBranch: "main"})
	now := time.Now()
	st.ScheduleDriftChecks(ctx, []store.DriftCheck{{Repo: "acme/infra", Project: "microservices/alpha/dev", Due: now},
		{Repo: "acme/infra", Project: "microservices/beta/dev", Due: now.Add(time.Hour)}})
	st.FinishDriftCheck(ctx, store.DriftCheck{Repo: "acme/infra", Project: "microservices/alpha/dev", Due: now.Add(24 * time.Hour), LastChecked: now,
		Result: store.DriftDrifted, Summary: "+0 ~1 -0", SHA: "0123456789abcdef0123456789abcdef01234567", Issue: 42}, now)
	st.CreateRun(ctx, store.Run{Kind: "apply", Repo: "acme/infra", Project: "microservices/alpha/dev", SHA: "0123456789abcdef0123456789abcdef01234567",
		ReconciledBy: "carol", Issue: 42, RequestKey: "comment 7"})
	st.Close()

	code, out, errOut := runCLI("drift", "status", "-data-dir", dir)
	if code != 0 {
		t.Fatalf("drift status exited %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "microservices/alpha/dev") || !strings.Contains(lines[1], "drifted") ||
		!strings.Contains(lines[1], "https://github.com/acme/infra/issues/42") || !strings.Contains(lines[1], "+0 ~1 -0") ||
		!strings.Contains(lines[2], "microservices/beta/dev") || !strings.Contains(lines[2], "unchecked") {
		t.Fatalf("drift status:\n%s", out)
	}
	code, out, _ = runCLI("drift", "status", "-data-dir", dir, "-format", "json")
	var entries []driftEntry
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 || entries[0].Issue != 42 || entries[0].LastChecked == nil {
		t.Fatalf("drift status json: %d %s", code, out)
	}
	if code, _, errOut := runCLI("drift", "status", "-data-dir", t.TempDir()); code != 1 || !strings.Contains(errOut, "no store") {
		t.Errorf("drift status of an empty dir: %d %q", code, errOut)
	}
	if code, _, _ := runCLI("drift"); code != 2 {
		t.Errorf("tfpr drift without status: %d, want 2", code)
	}
	code, out, _ = runCLI("audit", "-data-dir", dir)
	if code != 0 || !strings.Contains(out, "RECONCILED BY") || !strings.Contains(out, "carol (#42)") {
		t.Fatalf("audit of a reconcile:\n%s", out)
	}
}
