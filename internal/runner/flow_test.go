package runner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/webhook"
)

const (
	projA = "microservices/alpha/dev"
	projB = "microservices/beta/dev"
)

var meta = webhook.Meta{Installation: 1, Repo: webhook.Repo{ID: 1, FullName: "acme/infra", CloneURL: "https://github.com/acme/infra.git", DefaultBranch: "main"}}

// settle runs the loop's scheduling rounds until queued jobs and applies
// are done: each round waits for everything it started.
func (h *harness) settle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for range 6 {
		h.r.schedule(ctx)
		h.r.plans.Wait()
		h.r.applies.Wait()
	}
}

func (h *harness) dispatch(t *testing.T, ev webhook.Event) {
	t.Helper()
	if err := h.r.Dispatch(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	h.settle(t)
}

// openPR makes base b0 on main holding both projects, and PR 4 at h1
// changing alpha to value and beta as given ("" leaves beta alone).
func (h *harness) openPR(t *testing.T, alpha, beta string) {
	h.ws.commit("b0", "", merged(projectFiles(projA, "v0"), projectFiles(projB, "v0")))
	h.ws.land("b0")
	change := map[string]string{projA + "/input": alpha}
	if beta != "" {
		change[projB+"/input"] = beta
	}
	h.ws.commit("h1", "b0", change)
	pr := githubapp.PR{Number: 4, HeadSHA: "h1", BaseRef: "main", Author: "alice", State: "open"}
	h.gh.prs[4] = pr
	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "opened",
		PR: webhook.PullRequest{Number: 4, HeadSHA: "h1", BaseRef: "main", BaseSHA: "b0", Author: "alice"}})
}

// mergePR lands PR 4 as merge commit m1 whose alpha value is alpha.
func (h *harness) mergePR(t *testing.T, alpha string) {
	h.ws.commit("m1", "b0", map[string]string{projA + "/input": alpha})
	h.ws.land("m1")
	h.gh.merged["m1"] = githubapp.PR{Number: 4, HeadSHA: "h1", MergedBy: "carol"}
	pr := h.gh.prs[4]
	pr.State = "closed"
	h.gh.prs[4] = pr
	h.dispatch(t, webhook.PushEvent{M: meta, Ref: "refs/heads/main", Before: "b0", After: "m1"})
}

func (h *harness) applyRun(t *testing.T, pr int, status store.Status) []store.Run {
	t.Helper()
	runs, err := h.st.FindRuns(context.Background(), h.repo.FullName, pr, "apply", status)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func TestPRPlansAllowedProjectsAndReportsDeniedOnes(t *testing.T) {
	h := newHarness(t, Config{})
	h.lint.denyCode[projB] = true
	h.openPR(t, "v1", "v1")

	if want := []string{"plan " + projA}; !slices.Equal(h.tf.plans, want) {
		t.Errorf("terraform planned %q, want %q: a denied project never reaches terraform", h.tf.plans, want)
	}
	if c := h.gh.check(t, "plan:"+projA); c.Conclusion != "success" || c.HeadSHA != "h1" {
		t.Errorf("alpha check = %s at %s, want success at h1", c.Conclusion, c.HeadSHA)
	}
	if c := h.gh.check(t, "plan:"+projB); c.Conclusion != "failure" {
		t.Errorf("beta check = %s, want failure", c.Conclusion)
	}
	comments := h.gh.commentsOn(4)
	if len(comments) != 1 || !strings.Contains(comments[0], "| `"+projA+"` | 📝 changes | 1 |") || !strings.Contains(comments[0], "TFPR001") {
		t.Errorf("PR comment = %q, want alpha's plan and beta's finding", comments)
	}
	if strings.Contains(strings.Join(comments, ""), "ghs_faketoken123") {
		t.Error("the installation token reached a comment")
	}
	if p, err := h.st.LatestPlan(context.Background(), h.repo.FullName, 4, projA); err != nil || p.HeadSHA != "h1" {
		t.Errorf("saved plan of alpha = %+v, %v", p, err)
	}
}

func TestForkPRIsCheckedButNotPlanned(t *testing.T) {
	h := newHarness(t, Config{})
	h.ws.commit("b0", "", projectFiles(projA, "v0"))
	h.ws.land("b0")
	h.ws.commit("h1", "b0", map[string]string{projA + "/input": "v1"})
	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "opened",
		PR: webhook.PullRequest{Number: 4, HeadSHA: "h1", BaseRef: "main", Author: "mallory", Fork: true}})
	if len(h.tf.plans) != 0 {
		t.Errorf("terraform ran for a fork PR: %q", h.tf.plans)
	}
	if c := h.gh.check(t, "plan:"+projA); c.Conclusion == "success" {
		t.Errorf("fork check = %s", c.Conclusion)
	}
}

func TestMergeAppliesTheReviewedPlan(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	h.mergePR(t, "v1")

	if want := []string{projA + " reviewed.tfplan"}; !slices.Equal(h.tf.applied, want) {
		t.Errorf("applied %q, want %q", h.tf.applied, want)
	}
	if c := h.gh.check(t, "apply:"+projA); c.Conclusion != "success" || c.HeadSHA != "m1" {
		t.Errorf("apply check = %s at %s", c.Conclusion, c.HeadSHA)
	}
	if runs := h.applyRun(t, 4, store.StatusSucceeded); len(runs) != 1 || runs[0].SHA != "m1" {
		t.Errorf("succeeded applies = %+v", runs)
	}
	if _, err := h.st.LatestPlan(context.Background(), h.repo.FullName, 4, projA); err == nil {
		t.Error("the applied plan is still kept")
	}
	// The same merge announced again applies nothing more.
	h.dispatch(t, webhook.PushEvent{M: meta, Ref: "refs/heads/main", Before: "b0", After: "m1"})
	if len(h.tf.applied) != 1 {
		t.Errorf("a redelivered push applied again: %q", h.tf.applied)
	}
}

func TestMergeOfChangedCodeIsReplannedAndHeldUntilApproved(t *testing.T) {
	h := newHarness(t, Config{ApplyOnDrift: DriftWait, ApproverUsers: []string{"carol"}})
	h.openPR(t, "v1", "")
	h.mergePR(t, "v2") // another change to alpha merged first

	if len(h.tf.applied) != 0 {
		t.Fatalf("a plan that differs from the reviewed one was applied: %q", h.tf.applied)
	}
	if runs := h.applyRun(t, 4, store.StatusWaiting); len(runs) != 1 {
		t.Fatalf("waiting applies = %+v", runs)
	}
	text := strings.Join(h.gh.commentsOn(4), "\n")
	for _, want := range []string{"another change merged first", "differs from the plan reviewed at h1", "Apply is held"} {
		if !strings.Contains(text, want) {
			t.Errorf("PR comments do not say %q:\n%s", want, text)
		}
	}
	h.gh.perms["carol"] = "write"
	h.dispatch(t, webhook.CommentEvent{M: meta, Action: "created", Number: 4, IsPR: true, CommentID: 77, Body: "tfpr apply", Author: "carol"})
	if want := []string{projA + " merge.tfplan"}; !slices.Equal(h.tf.applied, want) {
		t.Errorf("after approval applied %q, want %q", h.tf.applied, want)
	}
	if runs := h.applyRun(t, 4, store.StatusSucceeded); len(runs) != 1 || runs[0].ApprovedBy != "carol" {
		t.Errorf("succeeded applies = %+v", runs)
	}
}

func TestFailedApplyBlocksTheProjectUntilUnblocked(t *testing.T) {
	h := newHarness(t, Config{ApproverUsers: []string{"carol"}})
	h.tf.failApply[projA] = true
	h.openPR(t, "v1", "")
	h.mergePR(t, "v1")

	if len(h.gh.issues) != 1 || !strings.Contains(h.gh.issues[0], projA) {
		t.Fatalf("issues = %q, want one for alpha", h.gh.issues)
	}
	if c := h.gh.check(t, "apply:"+projA); c.Conclusion != "failure" {
		t.Errorf("apply check = %s", c.Conclusion)
	}
	b, err := h.st.Blocked(context.Background(), h.repo.FullName, projA)
	if err != nil || b.Issue != 901 {
		t.Fatalf("block = %+v, %v", b, err)
	}
	// A later merge of the project waits behind the block.
	h.tf.failApply[projA] = false
	h.ws.commit("m2", "m1", map[string]string{projA + "/input": "v3"})
	h.ws.land("m2")
	h.dispatch(t, webhook.PushEvent{M: meta, Ref: "refs/heads/main", Before: "m1", After: "m2"})
	if len(h.tf.applied) != 0 {
		t.Fatalf("an apply ran while the project was blocked: %q", h.tf.applied)
	}
	// Someone without ownership cannot unblock it.
	h.gh.perms["dave"] = "write"
	h.dispatch(t, webhook.CommentEvent{M: meta, Action: "created", Number: 901, CommentID: 78, Body: "tfpr unblock", Author: "dave"})
	if _, err := h.st.Blocked(context.Background(), h.repo.FullName, projA); err != nil {
		t.Fatal("a writer who owns nothing unblocked the project")
	}
	h.gh.perms["carol"] = "write"
	h.dispatch(t, webhook.CommentEvent{M: meta, Action: "created", Number: 901, CommentID: 79, Body: "tfpr unblock", Author: "carol"})
	if !slices.Contains(h.gh.closed, 901) {
		t.Error("the issue was not closed")
	}
	if want := []string{projA + " merge.tfplan"}; !slices.Equal(h.tf.applied, want) {
		t.Errorf("after unblock applied %q, want %q", h.tf.applied, want)
	}
}

func TestRetryOnTheFailureIssueAppliesAgain(t *testing.T) {
	h := newHarness(t, Config{ApproverUsers: []string{"carol"}})
	h.tf.failApply[projA] = true
	h.openPR(t, "v1", "")
	h.mergePR(t, "v1")
	h.tf.failApply[projA] = false
	h.gh.perms["carol"] = "admin"
	h.dispatch(t, webhook.CommentEvent{M: meta, Action: "created", Number: 901, CommentID: 80, Body: "tfpr apply", Author: "carol"})
	if len(h.tf.applied) != 1 {
		t.Errorf("retry applied %q", h.tf.applied)
	}
	if runs := h.applyRun(t, 4, store.StatusSucceeded); len(runs) != 1 {
		t.Errorf("succeeded applies after retry = %+v", runs)
	}
}

func TestPlanDenialIsOverriddenByAnApprover(t *testing.T) {
	h := newHarness(t, Config{ApproverUsers: []string{"carol"}})
	h.lint.denyPlan[projA] = "TFPR020"
	h.openPR(t, "v1", "")
	if c := h.gh.check(t, "plan:"+projA); c.Conclusion != "failure" {
		t.Fatalf("plan check = %s, want failure", c.Conclusion)
	}
	h.dispatch(t, webhook.CommentEvent{M: meta, Action: "created", Number: 4, IsPR: true, CommentID: 81, Body: "tfpr approve TFPR020", Author: "carol"})
	if c := h.gh.check(t, "plan:"+projA); c.Conclusion != "success" {
		t.Errorf("plan check after approval = %s, want success", c.Conclusion)
	}
	h.mergePR(t, "v1")
	if len(h.tf.applied) != 1 {
		t.Errorf("approved plan was not applied: %q", h.tf.applied)
	}
}

func TestInterruptedApplyIsReplannedAfterRestart(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	ctx := context.Background()
	// The process died mid-apply: the run is left running.
	h.ws.commit("m1", "b0", map[string]string{projA + "/input": "v1"})
	h.ws.land("m1")
	h.gh.merged["m1"] = githubapp.PR{Number: 4, HeadSHA: "h1"}
	id, _, err := h.st.CreateRun(ctx, store.Run{Kind: store.RunApply, Repo: h.repo.FullName, Project: projA, PR: 4, SHA: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.st.StartRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := h.r.recover(ctx); err != nil {
		t.Fatal(err)
	}
	h.settle(t)
	if want := []string{projA + " merge.tfplan"}; !slices.Equal(h.tf.applied, want) {
		t.Errorf("applied %q, want a fresh plan %q", h.tf.applied, want)
	}
	if text := strings.Join(h.gh.commentsOn(4), "\n"); !strings.Contains(text, "was interrupted") {
		t.Errorf("PR not told of the interruption:\n%s", text)
	}
}

func TestMergeOfACommitOffTheBranchIsRefused(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "closed",
		PR: webhook.PullRequest{Number: 4, HeadSHA: "h1", BaseRef: "main", Merged: true, MergeCommitSHA: "h1", MergedBy: "carol"}})
	if len(h.tf.applied) != 0 {
		t.Errorf("a commit main does not contain was applied: %q", h.tf.applied)
	}
	if text := strings.Join(h.gh.commentsOn(4), "\n"); !strings.Contains(text, "refused to apply") {
		t.Errorf("PR not told of the refusal:\n%s", text)
	}
}

func TestRemovedProjectIsSkippedAndClosedPRForgetsPlans(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	ctx := context.Background()
	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "closed", PR: webhook.PullRequest{Number: 4, HeadSHA: "h1", BaseRef: "main"}})
	if _, err := h.st.LatestPlan(ctx, h.repo.FullName, 4, projA); err == nil {
		t.Error("a closed PR's plan is still kept")
	}
	h.ws.commit("m1", "b0", map[string]string{projA + "/main.tf": "", projA + "/input": ""})
	h.ws.land("m1")
	id, _, err := h.st.CreateRun(ctx, store.Run{Kind: store.RunApply, Repo: h.repo.FullName, Project: projA, SHA: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	h.settle(t)
	run, err := h.st.GetRun(ctx, id)
	if err != nil || run.Status != store.StatusSkipped {
		t.Errorf("apply of a removed project = %q, %v; want skipped", run.Status, err)
	}
}

func TestTooManyProjectsArePlannedUpToTheCap(t *testing.T) {
	h := newHarness(t, Config{MaxProjectsPerPR: 1})
	h.openPR(t, "v1", "v1")
	if len(h.tf.plans) != 1 {
		t.Errorf("planned %q with a cap of 1", h.tf.plans)
	}
	if text := strings.Join(h.gh.commentsOn(4), "\n"); !strings.Contains(text, "Not checked, not planned") || !strings.Contains(text, projB) {
		t.Errorf("comment does not name the project left out:\n%s", text)
	}
}

// An apply that failed before terraform ran is retried with backoff; the
// attempts and the backoff are kept in the store, so a restart neither
// forgets them nor retries at once.
func TestApplyRetryBackoffSurvivesARestart(t *testing.T) {
	cfg := Config{RetryBase: time.Hour}
	h := newHarness(t, cfg)
	h.openPR(t, "v1", "")
	h.ws.broken["m1"] = 2 // merge expansion reads m1; the apply's checkout fails
	h.mergePR(t, "v1")
	if n := h.ws.tries["m1"]; n != 2 {
		t.Fatalf("checkouts of m1 = %d, want 2 then a backoff", n)
	}
	queued := h.applyRun(t, 4, store.StatusQueued)
	if len(queued) != 1 || !strings.HasPrefix(queued[0].Summary, "retry 1:") {
		t.Fatalf("queued applies = %+v, want one waiting for its first retry", queued)
	}
	h.restart(t, cfg, t.TempDir())
	h.settle(t)
	if n := h.ws.tries["m1"]; n != 2 {
		t.Errorf("after a restart checkouts of m1 = %d: the backoff was forgotten", n)
	}
}
