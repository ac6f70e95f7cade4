package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

// restart stops tfpr and starts it again on the same data dir, with the
// settings in extra changed.
func (h *harness) restart(extra map[string]string) {
	h.t.Helper()
	h.stop()
	h.stop = nil
	for k, v := range extra {
		h.env[k] = v
	}
	h.boot()
}

// driftChecks reads the drift schedule from tfpr's store, by project.
func (h *harness) driftChecks() map[string]store.DriftCheck {
	h.t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	all, err := st.DriftChecks(context.Background(), "")
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]store.DriftCheck{}
	for _, d := range all {
		out[d.Project] = d
	}
	return out
}

// driftIssues returns the repository's drift issues.
func (h *harness) driftIssues() []githubtest.Issue {
	var out []githubtest.Issue
	for _, is := range h.repo.Issues() {
		if strings.HasPrefix(is.Title, "tfpr drift: ") {
			out = append(out, is)
		}
	}
	return out
}

// applyBehindTfprsBack applies config to project dir's state directly with
// terraform, as someone with the project's credentials would by hand.
func (h *harness) applyBehindTfprsBack(dir, config string) {
	t := h.t
	t.Helper()
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(backend+config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	for k, v := range h.gcs.TerraformEnv() {
		env = append(env, k+"="+v)
	}
	for _, args := range [][]string{
		{"init", "-input=false", "-no-color", "-backend-config=bucket=" + bucket, "-backend-config=prefix=" + owner + "/" + repoName + "/" + dir},
		{"apply", "-input=false", "-no-color", "-auto-approve"},
	} {
		cmd := exec.Command(testenv.Terraform(t), args...)
		cmd.Dir, cmd.Env = work, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
}

// seedApplied seeds the monorepo and waits until tfpr applied both of its
// projects: the world matches main.
func seedApplied(t *testing.T, h *harness) string {
	t.Helper()
	sha := seed(t, h.repo)
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", zeroSHA, sha))
	eventually(t, 3*time.Minute, "the seed applied", func() bool {
		a, okA := h.checkRun("tfpr apply: microservices/alpha/dev", sha)
		b, okB := h.checkRun("tfpr apply: microservices/beta/dev", sha)
		return okA && okB && a.Conclusion == "success" && b.Conclusion == "success"
	})
	return sha
}

// After an apply, someone changes alpha's infrastructure by hand: the next
// drift check opens one issue showing the change, later checks edit it in
// place (a restart between them too), the project that never drifted gets
// none, and a code owner's `tfpr apply` on the issue converges alpha and
// closes it, audited as a reconcile.
func TestDriftIssueAndReconcile(t *testing.T) {
	h := start(t, nil)
	seedApplied(t, h)
	h.repo.Commit(t, "main", map[string]string{"CODEOWNERS": "/microservices/alpha/ @owner-olga\n/microservices/beta/ @acme/beta\n"}, "alpha is olga's")
	h.repo.SetPermission("owner-olga", "write")
	h.repo.SetPermission("writer-wes", "write")
	h.applyBehindTfprsBack("microservices/alpha/dev", `
resource "terraform_data" "queue" {
  input = "changed-by-hand"
}
`)

	h.restart(map[string]string{"TFPR_DRIFT_INTERVAL": "20s"})
	eventually(t, 3*time.Minute, "a drift issue for alpha", func() bool { return len(h.driftIssues()) > 0 })
	first := h.driftIssues()[0]
	if first.Title != "tfpr drift: microservices/alpha/dev" || first.State != "open" || !strings.Contains(first.Body, "changed-by-hand") ||
		!strings.Contains(first.Body, "alpha-queue-v1") || !slicesHave(first.Labels, "tfpr:drift") {
		t.Fatalf("drift issue: %+v\nwant alpha's, labelled tfpr:drift, showing the change", first)
	}
	eventually(t, 2*time.Minute, "a second check to update the issue", func() bool {
		is := h.driftIssues()
		return len(is) != 1 || is[0].Body != first.Body
	})
	second := h.driftIssues()
	if len(second) != 1 || second[0].Number != first.Number {
		t.Fatalf("second check: %+v, want issue #%d edited in place", second, first.Number)
	}

	h.restart(nil)
	eventually(t, 2*time.Minute, "a check after the restart", func() bool {
		is := h.driftIssues()
		return len(is) != 1 || is[0].Body != second[0].Body
	})
	if is := h.driftIssues(); len(is) != 1 || is[0].Number != first.Number || is[0].State != "open" {
		t.Fatalf("after a restart: %+v, want issue #%d still the only one, open", is, first.Number)
	}
	eventually(t, 2*time.Minute, "beta checked", func() bool { return h.driftChecks()["microservices/beta/dev"].Result == store.DriftInSync })
	if d := h.driftChecks()["microservices/beta/dev"]; d.Issue != 0 {
		t.Fatalf("beta never drifted but has issue #%d", d.Issue)
	}

	h.deliver("issue_comment", h.repo.CommentPayload(t, first.Number, "writer-wes", "tfpr apply"))
	eventually(t, time.Minute, "the refusal", func() bool { return len(h.commentsContaining(first.Number, "write access is not enough")) == 1 })
	h.deliver("issue_comment", h.repo.CommentPayload(t, first.Number, "owner-olga", "tfpr apply"))
	eventually(t, 3*time.Minute, "the issue closed by the reconcile", func() bool { return h.driftIssues()[0].State == "closed" })
	if len(h.commentsContaining(first.Number, "The plan of the reconcile")) != 1 || len(h.commentsContaining(first.Number, "Reconciled by")) != 1 {
		t.Fatalf("the issue must show the reconcile's plan, then its outcome: %+v", h.repo.Comments(first.Number))
	}
	state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")))
	if !strings.Contains(state, "alpha-queue-v1") || strings.Contains(state, "changed-by-hand") {
		t.Fatalf("alpha's state after the reconcile:\n%s", state)
	}
	var reconciles []store.Run
	for _, r := range h.applyRuns() {
		if r.ReconciledBy != "" {
			reconciles = append(reconciles, r)
		}
	}
	if len(reconciles) != 1 || reconciles[0].ReconciledBy != "owner-olga" || reconciles[0].Issue != first.Number || reconciles[0].Status != store.StatusSucceeded {
		t.Fatalf("audit: %+v, want one successful reconcile asked for by owner-olga", reconciles)
	}
}

func slicesHave(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// planFiles returns the wrapper's "dir|files" record of every plan, oldest
// first: runs happen in sandboxes, so what a plan saw tells them apart.
func (h *harness) planFiles() []string {
	raw, _ := os.ReadFile(filepath.Join(h.logDir, "plan-files"))
	if s := strings.TrimSpace(string(raw)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// A PR plan queued while a drift check runs goes before the next drift
// check: drift never takes the place of PR work.
func TestPRPlansGoBeforeTheNextDriftCheck(t *testing.T) {
	h := start(t, map[string]string{"TFPR_PARALLELISM": "2"})
	seedApplied(t, h)
	before := len(h.planFiles())
	// Plans from now on (alpha's drift check first) wait in the sandbox
	// until the test lets them go.
	hold := filepath.Join(h.logDir, "hold-plan")
	if err := os.WriteFile(hold, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.restart(map[string]string{"TFPR_DRIFT_INTERVAL": "4s"})
	eventually(t, 2*time.Minute, "alpha's drift check to plan", func() bool {
		_, err := os.Stat(filepath.Join(h.logDir, "plan-held"))
		return err == nil
	})
	// Three PRs: with two terraform slots and two jobs at a time, the
	// drift check and the first PR hold the slots, the second PR waits for
	// one and the third stays queued.
	for n, file := range map[int]string{1: "extra1.tf", 2: "extra2.tf", 3: "extra3.tf"} {
		branch := fmt.Sprintf("beta-%d", n)
		h.repo.Commit(t, branch, map[string]string{"microservices/beta/dev/" + file: "resource \"terraform_data\" \"extra\" {\n  input = \"x\"\n}\n"}, "beta: "+file)
		h.repo.OpenPR(t, n, branch, "dev-alice")
	}
	for n := 1; n <= 3; n++ {
		h.deliver("pull_request", h.repo.PullRequestPayload(t, n, "opened"))
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	// Beta's drift check plans main (main.tf only); the PRs' plans have an
	// extra file.
	isBeta := func(l string) bool { return strings.Contains(l, "microservices/beta/dev|") }
	firstDrift := func() int {
		for i, l := range h.planFiles() {
			if i >= before && isBeta(l) && !strings.Contains(l, "extra") {
				return i
			}
		}
		return -1
	}
	eventually(t, 3*time.Minute, "beta's drift check", func() bool { return firstDrift() >= 0 })
	var prs []int
	for i, l := range h.planFiles() {
		if i >= before && isBeta(l) && strings.Contains(l, "extra") {
			prs = append(prs, i)
		}
	}
	if len(prs) != 3 || firstDrift() < prs[2] {
		t.Fatalf("the PRs' plans (at %v) must run before beta's drift check (at %d); plans since the restart (from %d):\n%s", prs, firstDrift(), before, strings.Join(h.planFiles(), "\n"))
	}
	for _, n := range []int{1, 2, 3} {
		if len(h.commentsContaining(n, "tfpr plan for")) == 0 {
			t.Fatalf("PR #%d got no plan comment", n)
		}
	}
}
