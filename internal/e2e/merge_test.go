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

// applyRuns reads the apply runs from tfpr's store, newest first.
func (h *harness) applyRuns() []store.Run {
	h.t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(context.Background(), "apply", 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return runs
}

// settled reports whether every apply run has finished (or is held).
func settled(runs []store.Run) bool {
	for _, r := range runs {
		if r.Status == store.StatusQueued || r.Status == store.StatusRunning {
			return false
		}
	}
	return true
}

// A closed+merged event whose merge_commit_sha is a PR head main does not
// contain (the mirror holds every PR head) is refused, not applied.
func TestMergedEventOffMainIsRefused(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	head := alphaPR(t, h, 2, "never-merged", "from-unmerged-pr")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 2, "opened"))
	eventually(t, 2*time.Minute, "plan #2", func() bool { return len(h.commentsContaining(2, "tfpr plan for")) > 0 })

	forged := patch(t, h.repo.PullRequestPayload(t, 2, "closed"), func(m map[string]any) {
		pr := m["pull_request"].(map[string]any)
		pr["merged"] = true
		pr["merge_commit_sha"] = head
		pr["merged_by"] = map[string]any{"login": "lead-carol", "type": "User"}
	})
	h.deliver("pull_request", forged)
	eventually(t, 2*time.Minute, "an apply answer on #2", func() bool {
		return len(h.commentsContaining(2, "refused to apply"))+len(h.commentsContaining(2, "tfpr apply for")) > 0
	})
	if c := h.commentsContaining(2, "refused to apply"); len(c) == 0 || !strings.Contains(c[0], "not on ` main `") {
		t.Fatalf("the PR must be told the commit is not on main; comments:\n%v", h.commentsContaining(2, "apply"))
	}
	if runs := h.applyRuns(); len(runs) != 0 {
		t.Fatalf("apply runs were queued for a commit main does not contain: %+v", runs)
	}
	if n := h.invocations("apply", ""); n != 0 {
		t.Fatalf("terraform apply ran %d times", n)
	}
	if st := h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")); strings.Contains(string(st), "from-unmerged-pr") {
		t.Fatalf("the unmerged PR's change reached the state:\n%s", st)
	}
}

// A PR landed with "Rebase and merge" puts one commit per PR commit on
// main; only its final state was planned and reviewed, and only that is
// applied, once per project, with every project the series changed.
func TestRebaseMergeAppliesOnce(t *testing.T) {
	h := start(t, nil)
	base := seed(t, h.repo)
	alpha := func(v string) map[string]string {
		return map[string]string{"microservices/alpha/dev/main.tf": backend + "\nresource \"terraform_data\" \"queue\" {\n  input = \"" + v + "\"\n}\n"}
	}
	h.repo.Commit(t, "series", alpha("step-1"), "alpha: step 1")
	h.repo.Commit(t, "series", map[string]string{
		"microservices/beta/dev/extra.tf": "resource \"terraform_data\" \"extra\" {\n  input = \"step-2\"\n}\n",
	}, "beta: step 2")
	h.repo.Commit(t, "series", alpha("step-3"), "alpha: step 3")
	h.repo.OpenPR(t, 4, "series", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 4, "opened"))
	eventually(t, 2*time.Minute, "plan #4", func() bool { return len(h.commentsContaining(4, "tfpr plan for")) > 0 })

	landed := h.repo.RebaseMerge(t, 4, "lead-carol")
	if len(landed) != 3 {
		t.Fatalf("rebase merge landed %d commits, want 3", len(landed))
	}
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", base, landed[2]))
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 4, "closed"))
	eventually(t, 3*time.Minute, "applies to finish", func() bool {
		runs := h.applyRuns()
		// One living comment per merge commit, showing every project.
		c := h.commentsContaining(4, "tfpr apply for")
		return len(runs) >= 2 && settled(runs) && len(c) == 1 &&
			strings.Contains(c[0], "| `microservices/alpha/dev` | ✅ applied") && strings.Contains(c[0], "| `microservices/beta/dev` | ✅ applied")
	})
	runs := h.applyRuns()
	if len(runs) != 2 {
		t.Fatalf("apply runs = %d, want 2 (alpha and beta, once each): %+v", len(runs), runs)
	}
	for _, r := range runs {
		if r.SHA != landed[2] || r.Status != store.StatusSucceeded || r.PR != 4 {
			t.Errorf("apply run %s at %.7s (%s, PR #%d), want succeeded at the last rebased commit %.7s for #4", r.Project, r.SHA, r.Status, r.PR, landed[2])
		}
	}
	for _, p := range []string{"microservices/alpha/dev", "microservices/beta/dev"} {
		if n := h.invocations("apply", p); n != 1 {
			t.Errorf("terraform apply ran %d times in %s, want 1", n, p)
		}
	}
	for _, c := range h.commentsContaining(4, "tfpr apply for") {
		if !strings.Contains(c, "Applied the plan reviewed on PR #4") {
			t.Errorf("the reviewed plan of the PR's final state should be applied:\n%s", c)
		}
	}
	if st := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate"))); !strings.Contains(st, "step-3") {
		t.Fatalf("alpha's state lacks the PR's final value:\n%s", st)
	}
}

// The reviewed plan's JSON copy is what the plan policies judge at merge:
// one changed in the plan store after review is refused, and tfpr plans
// again instead of trusting it.
func TestTamperedPlanJSONIsNotJudged(t *testing.T) {
	h := start(t, nil)
	base := seed(t, h.repo)
	alphaPR(t, h, 5, "json", "json-change")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 5, "opened"))
	eventually(t, 2*time.Minute, "plan #5", func() bool { return len(h.commentsContaining(5, "tfpr plan for")) > 0 })
	var tampered int
	for _, p := range planFiles(t, h.data) {
		if strings.HasSuffix(p, ".tfplan.json") {
			// What a writer to the plan store would do: hide the changes
			// from the plan policies.
			if err := os.WriteFile(p, []byte(`{"format_version":"1.2","resource_changes":[]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			tampered++
		}
	}
	if tampered != 1 {
		t.Fatalf("found %d plan JSON copies, want 1", tampered)
	}
	m := h.repo.Merge(t, 5, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", base, m))
	eventually(t, 2*time.Minute, "apply comment", func() bool { return len(h.commentsContaining(5, "tfpr apply for")) > 0 })
	c := h.commentsContaining(5, "tfpr apply for")[0]
	if strings.Contains(c, "Applied the plan reviewed") || !strings.Contains(c, "plan JSON hash") {
		t.Fatalf("a plan whose JSON copy changed after review must not be used, and the comment must say why:\n%s", c)
	}
}

// driftPR plans a PR, then pushes a commit that changes only an attribute
// value to its branch without tfpr hearing of it, and merges: the merge's
// re-plan differs from the reviewed plan in that one value.
func driftPR(t *testing.T, h *harness, number int) {
	t.Helper()
	base := seed(t, h.repo)
	alphaPR(t, h, number, "drift", "reviewed-value")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, number, "opened"))
	eventually(t, 2*time.Minute, "plan", func() bool { return len(h.commentsContaining(number, "tfpr plan for")) > 0 })
	alphaPR := func(v string) map[string]string {
		return map[string]string{"microservices/alpha/dev/main.tf": backend + "\nresource \"terraform_data\" \"queue\" {\n  input = \"" + v + "\"\n}\n"}
	}
	h.repo.Commit(t, "drift", alphaPR("pushed-value"), "alpha: a late change")
	m := h.repo.Merge(t, number, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", base, m))
}

const driftLine = "`terraform_data.queue` `input`: `\"reviewed-value\"` → `\"pushed-value\"`"

func TestValueChangedAfterReviewIsReported(t *testing.T) {
	h := start(t, nil)
	driftPR(t, h, 6)
	eventually(t, 2*time.Minute, "apply", func() bool { return len(h.commentsContaining(6, "Apply complete")) > 0 })
	if c := h.commentsContaining(6, "tfpr apply for")[0]; !strings.Contains(c, driftLine) {
		t.Fatalf("the apply comment must name the value that changed since review (%s):\n%s", driftLine, c)
	}
}

func TestValueChangedAfterReviewIsHeldInWaitMode(t *testing.T) {
	h := start(t, map[string]string{"TFPR_APPLY_ON_DRIFT": "wait", "TFPR_APPROVER_USERS": "lead-carol"})
	h.repo.SetPermission("lead-carol", "write")
	driftPR(t, h, 6)
	eventually(t, 2*time.Minute, "apply answer", func() bool { return len(h.commentsContaining(6, "tfpr apply for")) > 0 })
	c := h.commentsContaining(6, "tfpr apply for")[0]
	if !strings.Contains(c, driftLine) || !strings.Contains(c, "Apply is held") {
		t.Fatalf("a changed value must hold the apply and say which value changed:\n%s", c)
	}
	if n := h.invocations("apply", ""); n != 0 {
		t.Fatalf("terraform apply ran %d times while the apply was held", n)
	}
	if runs := h.applyRuns(); len(runs) != 1 || runs[0].Status != store.StatusWaiting {
		t.Fatalf("apply runs = %+v, want one waiting", runs)
	}

	// An approver releases it: the plan they were shown is applied.
	h.deliver("issue_comment", h.repo.CommentPayload(t, 6, "lead-carol", "tfpr apply"))
	eventually(t, 2*time.Minute, "apply after release", func() bool { return len(h.commentsContaining(6, "Apply complete")) > 0 })
	if st := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate"))); !strings.Contains(st, "pushed-value") {
		t.Fatalf("state after the released apply:\n%s", st)
	}
	if runs := h.applyRuns(); len(runs) != 1 || runs[0].ApprovedBy != "lead-carol" {
		t.Fatalf("audit record = %+v, want the releasing approver", runs)
	}
}

// `tfpr approve` binds to the head whose plan the approver saw: a push that
// lands before tfpr handles the comment is not approved with it.
func TestApprovalBindsToTheHeadSeen(t *testing.T) {
	params := filepath.Join(t.TempDir(), "params.json")
	os.WriteFile(params, []byte(`{"max_destroy": 0}`), 0o600)
	h := start(t, map[string]string{"TFPR_POLICY_PARAMS_FILE": params, "TFPR_APPROVER_USERS": "lead-carol"})
	base := seed(t, h.repo)
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", strings.Repeat("0", 40), base))
	eventually(t, 2*time.Minute, "initial apply", func() bool {
		return strings.Contains(string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate"))), "alpha-queue-v1")
	})
	seen := h.repo.Commit(t, "drop", map[string]string{"microservices/alpha/dev/main.tf": backend}, "alpha: drop the queue")
	h.repo.OpenPR(t, 3, "drop", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 3, "opened"))
	eventually(t, 2*time.Minute, "denied plan", func() bool {
		cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", seen)
		return ok && cr.Conclusion == "failure"
	})

	// The author pushes again; the approver comments on the plan they saw
	// before tfpr hears of the push.
	unseen := h.repo.Commit(t, "drop", map[string]string{"microservices/alpha/dev/extra.tf": "resource \"terraform_data\" \"more\" {\n  input = \"x\"\n}\n"}, "alpha: more")
	h.deliver("issue_comment", h.repo.CommentPayload(t, 3, "lead-carol", "tfpr approve TFPR102"))
	eventually(t, time.Minute, "approval reply", func() bool { return len(h.commentsContaining(3, "approved `TFPR102`")) > 0 })
	if c := h.commentsContaining(3, "approved `TFPR102`")[0]; !strings.Contains(c, seen[:7]) || !strings.Contains(c, "needs a new approval") {
		t.Errorf("the reply must name the head approved (%.7s) and say the new head needs its own approval:\n%s", seen, c)
	}
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 3, "synchronize"))
	eventually(t, 2*time.Minute, "plan of the new head", func() bool { _, ok := h.checkRun("tfpr plan: microservices/alpha/dev", unseen); return ok })
	for _, cr := range h.repo.CheckRuns() {
		if cr.HeadSHA == unseen && cr.Conclusion != "failure" {
			t.Fatalf("the head pushed after the approval passed the destroy limit (%s): the approval must not cover it", cr.Conclusion)
		}
	}

	// Approved again on the plan of the new head: that plan passes.
	h.deliver("issue_comment", h.repo.CommentPayload(t, 3, "lead-carol", "tfpr approve TFPR102"))
	eventually(t, 2*time.Minute, "passing check on the new head", func() bool {
		var last string
		for _, cr := range h.repo.CheckRuns() {
			if cr.Name == "tfpr plan: microservices/alpha/dev" && cr.HeadSHA == unseen {
				last = cr.Conclusion
			}
		}
		return last == "success"
	})
}

// Retrying a failed apply or unblocking a project puts a plan into effect
// that no review covered: write access is not enough, and the retry is
// recorded as a retry, not as an approval.
func TestRetryAndUnblockNeedACodeOwner(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	h.repo.Commit(t, "main", map[string]string{"CODEOWNERS": "/microservices/alpha/ @owner-olga\n"}, "alpha is olga's")
	h.repo.SetPermission("writer-wes", "write")
	h.repo.SetPermission("owner-olga", "write")
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
	before := h.repo.Head(t, "main")
	m := h.repo.Merge(t, 1, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, m))
	eventually(t, 2*time.Minute, "failure issue", func() bool { return len(h.repo.Issues()) > 0 })
	issue := h.repo.Issues()[0].Number

	for _, cmd := range []string{"tfpr apply", "tfpr unblock"} {
		h.deliver("issue_comment", h.repo.CommentPayload(t, issue, "writer-wes", cmd))
	}
	eventually(t, time.Minute, "both refusals", func() bool { return len(h.commentsContaining(issue, "write access is not enough")) == 2 })
	if runs := h.applyRuns(); len(runs) != 1 || runs[0].Status != store.StatusFailed {
		t.Fatalf("after a non-owner's commands the apply runs are %+v, want the one failed run untouched", runs)
	}
	if h.repo.Issues()[0].State != "open" {
		t.Fatal("a non-owner's `tfpr unblock` closed the issue")
	}

	h.deliver("issue_comment", h.repo.CommentPayload(t, issue, "owner-olga", "tfpr apply"))
	eventually(t, 2*time.Minute, "the retried apply to fail again", func() bool {
		runs := h.applyRuns()
		return h.invocations("apply", "microservices/alpha/dev") == 2 && len(runs) == 1 && runs[0].Status == store.StatusFailed
	})
	if r := h.applyRuns()[0]; r.RetriedBy != "owner-olga" || r.ApprovedBy != "" {
		t.Fatalf("audit record: retried by %q, approved by %q; want retried by owner-olga and no approver", r.RetriedBy, r.ApprovedBy)
	}
}
