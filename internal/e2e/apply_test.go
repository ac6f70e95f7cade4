package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// appliesIn returns the merge-commit prefixes of alpha applies in the order
// terraform ran them (checkout dirs are named after the commit).
func (h *harness) appliesIn(project string) []string {
	var out []string
	for _, line := range h.invocationLines() {
		dir, args, _ := strings.Cut(line, "|")
		if strings.HasPrefix(args, "apply") && strings.HasSuffix(dir, "/"+project) {
			out = append(out, dir)
		}
	}
	return out
}

func TestMergesApplyInMergeOrder(t *testing.T) {
	h := start(t, nil)
	base := seed(t, h.repo)
	alphaPR(t, h, 1, "first", "v2")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "plan #1", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) > 0 })
	m1 := h.repo.Merge(t, 1, "lead-carol")
	h.repo.Commit(t, "second", map[string]string{
		"microservices/alpha/dev/extra.tf": "resource \"terraform_data\" \"second\" {\n  input = \"v3\"\n}\n",
	}, "alpha: second")
	h.repo.OpenPR(t, 2, "second", "dev-bob")
	m2 := h.repo.Merge(t, 2, "lead-carol")

	// Only the second push arrives (the first webhook was lost): tfpr
	// still applies both merges, oldest first.
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", base, m2))
	eventually(t, 3*time.Minute, "both applies", func() bool {
		return len(h.commentsContaining(1, "tfpr apply for")) > 0 && len(h.commentsContaining(2, "tfpr apply for")) > 0
	})
	// Runs see only their bundle, so the order shows in what each apply
	// had: the second merge added extra.tf.
	files, _ := os.ReadFile(filepath.Join(h.logDir, "apply-files"))
	if applies := strings.Split(strings.TrimSpace(string(files)), "\n"); len(applies) != 2 ||
		strings.Contains(applies[0], "extra.tf") || !strings.Contains(applies[1], "extra.tf") {
		t.Fatalf("applies of %s then %s saw %q, want extra.tf only in the second", m1[:12], m2[:12], applies)
	}
	if c := h.commentsContaining(1, "tfpr apply for")[0]; !strings.Contains(c, "Applied the plan reviewed on PR #1") {
		t.Errorf("PR #1 was planned at its final head on the merged code, so its reviewed plan should be applied:\n%s", c)
	}
	if c := h.commentsContaining(2, "tfpr apply for")[0]; !strings.Contains(c, "has no plan") {
		t.Errorf("PR #2 was never planned; the apply comment must say tfpr planned on the merge commit:\n%s", c)
	}
	state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")))
	if !strings.Contains(state, `"v2"`) || !strings.Contains(state, `"second"`) {
		t.Fatalf("state lacks one of the merges:\n%s", state)
	}
}

func TestFailedApplyBlocksTheProject(t *testing.T) {
	h := start(t, map[string]string{"TFPR_APPROVER_USERS": "lead-carol"})
	seed(t, h.repo)
	h.repo.SetPermission("lead-carol", "write")
	// The postcondition reads a value only known at apply time, so the
	// plan passes and the apply fails.
	h.repo.Commit(t, "boom", map[string]string{
		"microservices/alpha/dev/boom.tf": `resource "terraform_data" "boom" {
  input = timestamp()
  lifecycle {
    postcondition {
      condition     = self.output == "never"
      error_message = "boom fails on purpose"
    }
  }
}
`}, "alpha: boom")
	h.repo.OpenPR(t, 1, "boom", "dev-alice")
	mainBefore := h.repo.Head(t, "main")
	m1 := h.repo.Merge(t, 1, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", mainBefore, m1))
	eventually(t, 2*time.Minute, "failure issue", func() bool { return len(h.repo.Issues()) > 0 })
	is := h.repo.Issues()[0]
	if !strings.Contains(is.Title, "microservices/alpha/dev") || !strings.Contains(is.Body, "boom fails on purpose") {
		t.Fatalf("issue should name the project and carry the error: %+v", is)
	}
	if cr, ok := h.checkRun("tfpr apply: microservices/alpha/dev", m1); !ok || cr.Conclusion != "failure" {
		t.Fatalf("apply check run on the merge commit: %+v (found %v), want failure", cr, ok)
	}
	eventually(t, time.Minute, "failure comment on the PR", func() bool { return len(h.commentsContaining(1, "Apply failed")) > 0 })

	// The fix merges while the project is blocked: it waits, and says so.
	h.repo.Commit(t, "fix", map[string]string{"microservices/alpha/dev/boom.tf": ""}, "alpha: remove boom")
	h.repo.OpenPR(t, 5, "fix", "dev-alice")
	m2 := h.repo.Merge(t, 5, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", m1, m2))
	eventually(t, time.Minute, "waiting comment", func() bool { return len(h.commentsContaining(5, "waiting")) > 0 })
	time.Sleep(time.Second)
	if n := len(h.appliesIn("microservices/alpha/dev")); n != 1 {
		t.Fatalf("the blocked project applied again (%d applies) before anyone unblocked it", n)
	}

	// An approver unblocks it on the issue: the fix applies.
	h.deliver("issue_comment", h.repo.CommentPayload(t, is.Number, "lead-carol", "tfpr unblock"))
	eventually(t, 2*time.Minute, "fix applied", func() bool { return len(h.commentsContaining(5, "Apply complete")) > 0 })
	eventually(t, time.Minute, "issue closed", func() bool { return h.repo.Issues()[0].State == "closed" })
}

func TestResyncCatchesMissedWebhooks(t *testing.T) {
	h := start(t, map[string]string{"TFPR_RESYNC_INTERVAL": "1s"})
	seed(t, h.repo)
	alphaPR(t, h, 1, "seen", "seen")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "plan #1", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) > 0 })

	// PR #2 is opened and PR #1 merged, and no webhook arrives for either.
	h.repo.Commit(t, "unseen", map[string]string{
		"microservices/beta/dev/more.tf": "resource \"terraform_data\" \"unseen\" {\n  input = \"x\"\n}\n",
	}, "beta: unseen")
	h.repo.OpenPR(t, 2, "unseen", "dev-bob")
	m := h.repo.Merge(t, 1, "lead-carol")
	eventually(t, 2*time.Minute, "resync plans #2", func() bool { return len(h.commentsContaining(2, "tfpr plan for")) > 0 })
	eventually(t, 2*time.Minute, "resync applies #1", func() bool { return len(h.commentsContaining(1, "Apply complete")) > 0 })
	st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.ListRuns(context.Background(), "apply", 20)
	var forMerge []store.Run
	for _, r := range runs {
		if r.SHA == m && r.Project == "microservices/alpha/dev" {
			forMerge = append(forMerge, r)
		}
	}
	if len(forMerge) != 1 || forMerge[0].Status != store.StatusSucceeded || forMerge[0].PR != 1 {
		t.Fatalf("apply runs for the missed merge = %+v, want exactly one succeeded run reported to #1", forMerge)
	}
}

func TestApplyReplansOtherOpenPRs(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	alphaPR(t, h, 1, "one", "from-one")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "plan #1", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) > 0 })
	head2 := h.repo.Commit(t, "two", map[string]string{
		"microservices/alpha/dev/two.tf": "resource \"terraform_data\" \"two\" {\n  input = \"2\"\n}\n",
	}, "alpha: two")
	h.repo.OpenPR(t, 2, "two", "dev-bob")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 2, "opened"))
	eventually(t, 2*time.Minute, "plan #2", func() bool { return len(h.commentsContaining(2, "tfpr plan for")) > 0 })
	if c := h.commentsContaining(2, "tfpr plan for")[0]; !strings.Contains(c, "PR #1 also changes this project") {
		t.Errorf("the second PR's comment should name the PR planned first:\n%s", c)
	}
	before := h.repo.Head(t, "main")
	m := h.repo.Merge(t, 1, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, m))
	eventually(t, 2*time.Minute, "PR #2 re-planned after #1 applied", func() bool { return h.planRounds("microservices/alpha/dev", head2) > 1 })
}

// On shutdown tfpr stops taking work but lets a running apply finish and
// records it, instead of killing terraform halfway.
func TestShutdownLetsRunningApplyFinish(t *testing.T) {
	h := start(t, nil)
	before := seed(t, h.repo)
	alphaPR(t, h, 1, "slow", "slow-apply")
	m := h.repo.Merge(t, 1, "lead-carol")
	os.WriteFile(filepath.Join(h.logDir, "slow-apply"), nil, 0o600)
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, m))
	eventually(t, 2*time.Minute, "apply to start", func() bool { return len(h.appliesIn("microservices/alpha/dev")) > 0 })
	h.stop() // what SIGTERM does: cancel the server's context and wait
	h.stop = nil
	if state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate"))); !strings.Contains(state, "slow-apply") {
		t.Fatalf("shutdown cut the apply short; state:\n%s", state)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.ListRuns(context.Background(), "apply", 5)
	if len(runs) != 1 || runs[0].Status != store.StatusSucceeded {
		t.Fatalf("apply runs after shutdown = %+v, want one succeeded", runs)
	}
}
