package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/webhook"
)

// driftHarness is a runner with drift checks on, whose main (b0) holds
// both projects at v0 and whose infrastructure matches it.
func driftHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	cfg.DriftInterval = time.Hour
	h := newHarness(t, cfg)
	h.ws.commit("b0", "", merged(projectFiles(projA, "v0"), projectFiles(projB, "v0")))
	h.ws.land("b0")
	h.tf.world[projA], h.tf.world[projB] = "v0", "v0"
	h.r.discoverProjects(context.Background())
	return h
}

// driftTick runs one tick of the drift loop and waits for its checks.
func (h *harness) driftTick(t *testing.T) {
	t.Helper()
	h.r.driftTick(context.Background())
	h.r.plans.Wait()
}

func (h *harness) driftState(t *testing.T, p string) store.DriftCheck {
	t.Helper()
	d, err := h.st.DriftCheckOf(context.Background(), h.repo.FullName, p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (h *harness) recheck(t *testing.T, p string) {
	t.Helper()
	if err := h.st.RequestDriftCheck(context.Background(), h.repo.FullName, p, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func driftIssues(h *harness) []githubapp.Issue { return h.gh.keptIssues(DriftIssueLabel) }

// A project drifts: one issue, edited in place by later checks, across a
// restart too, and closed when a check finds the project in sync; a
// project that never drifted gets none.
func TestDriftIssueLifecycle(t *testing.T) {
	h := driftHarness(t, Config{})
	h.driftTick(t) // alpha is due first; beta later in the interval
	if d := h.driftState(t, projA); d.Result != store.DriftInSync || d.SHA != "b0" || d.Issue != 0 {
		t.Fatalf("alpha in sync: %+v", d)
	}
	if d := h.driftState(t, projB); d.Result != store.DriftUnchecked || !d.Due.After(time.Now().Add(20*time.Minute)) {
		t.Fatalf("beta should be due half an interval later, unchecked: %+v", d)
	}
	if n := len(driftIssues(h)); n != 0 {
		t.Fatalf("%d drift issues for projects in sync", n)
	}
	if h.tf.plans[0] != "plan "+projA {
		t.Fatalf("a drift check must plan with the read-only identity and no lock (plan mode): %v", h.tf.plans)
	}

	h.tf.world[projA] = "changed-by-hand"
	h.recheck(t, projA)
	h.driftTick(t)
	issues := driftIssues(h)
	if len(issues) != 1 || issues[0].Title != "tfpr drift: "+projA || !strings.Contains(issues[0].Body, driftMarker(projA)) ||
		!strings.Contains(issues[0].Body, "input=v0") || !strings.Contains(issues[0].Body, "**Drift**") {
		t.Fatalf("after drift: %+v, want one issue for alpha showing its plan", issues)
	}
	first := issues[0]
	if d := h.driftState(t, projA); d.Result != store.DriftDrifted || d.Issue != first.Number || d.Summary != "+1 ~0 -0" {
		t.Fatalf("alpha drifted: %+v", d)
	}

	h.restart(t, Config{DriftInterval: time.Hour}, h.r.cfg.DataDir)
	h.r.discoverProjects(context.Background())
	h.recheck(t, projA)
	h.driftTick(t)
	if issues := driftIssues(h); len(issues) != 1 || issues[0].Number != first.Number || h.gh.issueEdits[first.Number] != 1 {
		t.Fatalf("a check after a restart must edit issue #%d in place: %+v", first.Number, issues)
	}

	h.tf.world[projA] = "v0"
	h.recheck(t, projA)
	h.driftTick(t)
	if issues := driftIssues(h); len(issues) != 1 || issues[0].State != "closed" {
		t.Fatalf("in sync again: %+v, want the issue closed", issues)
	}
	if c := h.gh.commentsOn(first.Number); len(c) != 1 || !strings.Contains(c[0], "in sync") {
		t.Fatalf("closing comment: %q", c)
	}
	if d := h.driftState(t, projA); d.Issue != 0 || d.Result != store.DriftInSync {
		t.Fatalf("alpha after closing: %+v", d)
	}
}

// A store that lost the issue number finds the issue by its marker
// instead of opening a second one.
func TestDriftIssueFoundAgainByMarker(t *testing.T) {
	h := driftHarness(t, Config{})
	h.tf.world[projA] = "by-hand"
	h.driftTick(t)
	if err := h.st.SetDriftIssue(context.Background(), h.repo.FullName, projA, 0, store.DriftUnchecked); err != nil {
		t.Fatal(err)
	}
	h.recheck(t, projA)
	h.driftTick(t)
	if issues := driftIssues(h); len(issues) != 1 {
		t.Fatalf("%d issues, want the first found again by its marker", len(issues))
	}
	if d := h.driftState(t, projA); d.Issue != driftIssues(h)[0].Number {
		t.Fatalf("store did not learn the issue again: %+v", d)
	}
}

// A check that cannot run (policy denies main's code) gets the same issue,
// carrying why.
func TestDriftCheckErrorGetsAnIssue(t *testing.T) {
	h := driftHarness(t, Config{})
	h.lint.denyCode[projA] = true
	h.driftTick(t)
	issues := driftIssues(h)
	if len(issues) != 1 || !strings.Contains(issues[0].Body, "drift check of") || !strings.Contains(issues[0].Body, "terraform was not run") {
		t.Fatalf("errored check: %+v", issues)
	}
	if d := h.driftState(t, projA); d.Result != store.DriftErrored {
		t.Fatalf("alpha: %+v", d)
	}
	if n := len(h.tf.plans); n != 0 {
		t.Fatalf("terraform planned code the policies deny (%d plans)", n)
	}
}

// PR and apply work goes first: no drift check starts while any waits.
func TestDriftChecksWaitForPRWork(t *testing.T) {
	h := driftHarness(t, Config{})
	if _, err := h.st.EnqueueJob(context.Background(), store.Job{Kind: store.JobClose, Repo: h.repo, PR: 9}); err != nil {
		t.Fatal(err)
	}
	h.driftTick(t)
	if d := h.driftState(t, projA); !d.LastChecked.IsZero() {
		t.Fatalf("a drift check ran while a job was queued: %+v", d)
	}
	h.settle(t)
	h.driftTick(t)
	if d := h.driftState(t, projA); d.LastChecked.IsZero() {
		t.Fatalf("the drift check did not run once the queue was empty: %+v", d)
	}
}

func issueComment(number int, id int64, author, body string) webhook.CommentEvent {
	return webhook.CommentEvent{M: meta, Action: "created", Number: number, CommentID: id, Author: author, Body: body}
}

// `tfpr apply` on a drift issue: only a code owner or an approver; it
// re-plans main's head, applies it through the apply queue once however
// often the comment is handled, shows the plan on the issue, closes it,
// and the audit records it as a reconcile with who asked.
func TestReconcileOnTheDriftIssue(t *testing.T) {
	h := driftHarness(t, Config{ApproverUsers: []string{"carol"}})
	h.gh.perms["bob"], h.gh.perms["carol"] = "write", "write"
	h.tf.world[projA] = "by-hand"
	h.driftTick(t)
	n := h.driftState(t, projA).Issue
	if n == 0 {
		t.Fatal("no drift issue")
	}

	h.dispatch(t, issueComment(n, 70, "bob", "tfpr apply"))
	if len(h.tf.applied) != 0 || !strings.Contains(strings.Join(h.gh.commentsOn(n), "\n"), "needs a code owner") {
		t.Fatalf("bob is neither owner nor approver: applied %v, comments %q", h.tf.applied, h.gh.commentsOn(n))
	}
	if err := h.r.Dispatch(context.Background(), issueComment(n, 71, "carol", "tfpr apply")); err != nil {
		t.Fatal(err)
	}
	// The same command carried out twice (a job requeued after a crash)
	// is still one apply.
	job, _ := commandJob(h.repo, n, false, 71, "carol", "tfpr apply", "resync")
	if err := h.r.command(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	h.settle(t)
	if len(h.tf.applied) != 1 || h.tf.world[projA] != "v0" {
		t.Fatalf("applied %v, world %q; want one apply converging alpha to v0", h.tf.applied, h.tf.world[projA])
	}
	if !slicesContainsSub(h.tf.plans, "apply "+projA) {
		t.Fatalf("a reconcile re-plans with the apply identity: plans %v", h.tf.plans)
	}
	issue := driftIssues(h)[0]
	all := strings.Join(h.gh.commentsOn(n), "\n")
	if issue.State != "closed" || !strings.Contains(all, "input=v0") || !strings.Contains(all, "Reconciled by @") {
		t.Fatalf("issue %+v, comments:\n%s\nwant the plan shown and the issue closed", issue, all)
	}
	runs, err := h.st.ListRuns(context.Background(), "apply", 10)
	if err != nil || len(runs) != 1 || runs[0].ReconciledBy != "carol" || runs[0].Issue != n || runs[0].SHA != "b0" || runs[0].PR != 0 {
		t.Fatalf("audit: %+v, %v; want one reconcile by carol of b0", runs, err)
	}
	if d := h.driftState(t, projA); d.Issue != 0 || d.Result != store.DriftInSync {
		t.Fatalf("alpha after reconcile: %+v", d)
	}
}

// `tfpr drift` re-checks now: on the issue, or -p DIR anywhere; an
// unknown dir is answered, not scheduled.
func TestDriftCommand(t *testing.T) {
	h := driftHarness(t, Config{})
	h.gh.perms["bob"] = "write"
	h.driftTick(t)
	h.dispatch(t, issueComment(3, 80, "bob", "tfpr drift -p "+projB))
	if d := h.driftState(t, projB); d.Requested.IsZero() {
		t.Fatalf("beta not requested: %+v", d)
	}
	h.driftTick(t)
	if d := h.driftState(t, projB); d.LastChecked.IsZero() || !d.Requested.IsZero() {
		t.Fatalf("the asked-for check of beta did not run first: %+v", d)
	}
	h.dispatch(t, issueComment(3, 81, "bob", "tfpr drift -p nowhere/dev"))
	if c := h.gh.commentsOn(3); len(c) != 2 || !strings.Contains(c[1], "is not a project") {
		t.Fatalf("answers: %q", c)
	}
	if _, err := h.st.DriftCheckOf(context.Background(), h.repo.FullName, "nowhere/dev"); err == nil {
		t.Fatal("an unknown dir was scheduled")
	}
	h.dispatch(t, issueComment(3, 82, "bob", "tfpr drift"))
	if c := h.gh.commentsOn(3); !strings.Contains(c[len(c)-1], "not a drift issue") {
		t.Fatalf("answers: %q", c)
	}
}

func slicesContainsSub(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A drift issue body fits GitHub's limit however big the plan, by the
// living comment's fitting rules, and keeps its marker.
func TestDriftIssueBodyFits(t *testing.T) {
	text := "# terraform_data.huge will be updated in-place\n" + strings.Repeat("      ~ input = \"a\" -> \"b\"\n", 20000) + "Plan: 0 to add, 1 to change, 0 to destroy.\n"
	res := report.Result{Project: projA, Outcome: report.Planned, Plan: &terraform.Plan{HasChanges: true, Change: 1, Text: text}}
	body := driftIssueBody(store.Repo{FullName: "acme/infra", CloneURL: "https://github.com/acme/infra.git", DefaultBranch: "main"},
		"0123456789abcdef", res, store.DriftDrifted, time.Now())
	if len(body) > githubapp.MaxCommentChars || !strings.HasPrefix(body, driftMarker(projA)+"\n") || !strings.Contains(body, "Plan: 0 to add, 1 to change") {
		t.Fatalf("body of %d characters (limit %d), marker first and the plan's tail kept:\n%.600s", len(body), githubapp.MaxCommentChars, body)
	}
}

// An apply of a drifted project asks for a check at once; finding the
// project in sync, the check closes its issue.
func TestApplyOfADriftedProjectClosesItsIssue(t *testing.T) {
	h := driftHarness(t, Config{})
	h.tf.world[projA] = "by-hand"
	h.driftTick(t)
	n := h.driftState(t, projA).Issue
	if n == 0 {
		t.Fatal("no drift issue")
	}
	h.ws.commit("m1", "b0", map[string]string{projA + "/input": "v1"})
	h.ws.land("m1")
	h.dispatch(t, webhook.PushEvent{M: meta, Ref: "refs/heads/main", Before: "b0", After: "m1"})
	if h.tf.world[projA] != "v1" {
		t.Fatalf("the merge was not applied: world %q", h.tf.world[projA])
	}
	if d := h.driftState(t, projA); d.Requested.IsZero() {
		t.Fatalf("no check asked for after the apply: %+v", d)
	}
	h.driftTick(t)
	if is := driftIssues(h); len(is) != 1 || is[0].State != "closed" {
		t.Fatalf("after the apply and its check: %+v, want the issue closed", is)
	}
}
