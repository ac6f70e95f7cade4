package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
)

// botComments returns tfpr's comments on pr.
func (h *harness) botComments(pr int) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range h.repo.Comments(pr) {
		if strings.HasSuffix(c.User, "[bot]") {
			out = append(out, c)
		}
	}
	return out
}

// planShownFor reports whether pr's living comment shows the plan at sha.
func (h *harness) planShownFor(pr int, sha string) bool {
	return len(h.commentsContaining(pr, "tfpr plan for `"+sha[:7]+"`")) > 0
}

// planRounds counts the completed plan check runs of project at sha: one
// per plan round, as the living comment is edited rather than re-posted.
func (h *harness) planRounds(project, sha string) int {
	n := 0
	for _, cr := range h.checkRuns("tfpr plan: "+project, sha) {
		if cr.Status == "completed" {
			n++
		}
	}
	return n
}

func (h *harness) checkRuns(name, sha string) []githubtest.CheckRun {
	var out []githubtest.CheckRun
	for _, cr := range h.repo.CheckRuns() {
		if cr.Name == name && cr.HeadSHA == sha {
			out = append(out, cr)
		}
	}
	return out
}

// Every plan round edits the PR's one living comment; its labels follow
// the latest round, down to tfpr:no-changes once the PR is reverted.
func TestLivingCommentAndLabelsFollowThePR(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	first := alphaPR(t, h, 1, "living", "alpha-queue-v2")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "first plan", func() bool { return h.planShownFor(1, first) && len(h.repo.Labels(1)) > 0 })
	c1 := h.botComments(1)
	if len(c1) != 1 || !strings.Contains(c1[0].Body, "terraform_data.queue") {
		t.Fatalf("after the first round tfpr has %d comments, want 1 showing the plan: %+v", len(c1), c1)
	}
	if got := h.repo.Labels(1); !slices.Equal(got, []string{"tfpr:changes"}) {
		t.Fatalf("labels after a plan with changes: %v", got)
	}

	second := h.repo.Commit(t, "living", map[string]string{"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v3"
}
`}, "alpha: v3")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "synchronize"))
	eventually(t, 2*time.Minute, "re-plan at the new head", func() bool { return h.planShownFor(1, second) })
	c2 := h.botComments(1)
	if len(c2) != 1 || c2[0].ID != c1[0].ID || !strings.Contains(c2[0].Body, "alpha-queue-v3") || strings.Contains(c2[0].Body, "alpha-queue-v2") {
		t.Fatalf("a synchronize must edit the same comment (id %d); got %d comments: %+v", c1[0].ID, len(c2), c2)
	}

	reverted := h.repo.Commit(t, "living", map[string]string{"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v1"
}
`}, "revert alpha")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "synchronize"))
	eventually(t, 2*time.Minute, "labels after the revert", func() bool {
		return slices.Equal(h.repo.Labels(1), []string{"tfpr:no-changes"}) && h.planShownFor(1, reverted)
	})
	c3 := h.botComments(1)
	if len(c3) != 1 || c3[0].ID != c1[0].ID || strings.Contains(c3[0].Body, "alpha-queue-v3") {
		t.Fatalf("after the revert: %d comments, want the same one without the old plan: %+v", len(c3), c3)
	}
	colours := map[string]string{}
	for _, l := range h.repo.RepoLabels() {
		colours[l.Name] = l.Color
	}
	if colours["tfpr:changes"] != "fbca04" || colours["tfpr:no-changes"] != "0e8a16" {
		t.Errorf("labels were not created with their colours: %v", colours)
	}
	if cr := h.checkRuns("tfpr", reverted); len(cr) != 1 || cr[0].Conclusion != "neutral" {
		t.Errorf("the aggregate check of a head affecting nothing: %+v, want one, neutral", cr)
	}
}

// The aggregate `tfpr` check fails when a policy denies one project even
// though another planned fine.
func TestAggregateCheckFailsOnDenial(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	head := h.repo.Commit(t, "mixed", map[string]string{
		"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v2"
}
`,
		"modules/naming/main.tf": `variable "name" {
  type = string
}

data "external" "whoami" {
  program = ["sh", "-c", "id"]
}

output "id" {
  value = "acme-${var.name}"
}
`}, "alpha v2, naming asks the shell")
	h.repo.OpenPR(t, 1, "mixed", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "aggregate check", func() bool {
		cr := h.checkRuns("tfpr", head)
		return len(cr) == 1 && cr[0].Status == "completed"
	})
	agg := h.checkRuns("tfpr", head)[0]
	alpha, _ := h.checkRun("tfpr plan: microservices/alpha/dev", head)
	beta, _ := h.checkRun("tfpr plan: microservices/beta/dev", head)
	if agg.Conclusion != "failure" || alpha.Conclusion != "success" || beta.Conclusion != "failure" {
		t.Fatalf("conclusions: tfpr %q, alpha %q, beta %q; want failure, success, failure", agg.Conclusion, alpha.Conclusion, beta.Conclusion)
	}
	if !strings.Contains(agg.Summary, "| `microservices/beta/dev` | ⛔ policy denied |") {
		t.Errorf("the aggregate summary lacks beta's row:\n%s", agg.Summary)
	}
	eventually(t, time.Minute, "labels", func() bool { return len(h.repo.Labels(1)) > 0 })
	if got := h.repo.Labels(1); !slices.Equal(got, []string{"tfpr:changes", "tfpr:policy"}) {
		t.Errorf("labels %v, want tfpr:changes and tfpr:policy", got)
	}
}

// A project's check run shows in progress while terraform plans, and the
// same check run completes when it is done.
func TestCheckRunInProgressWhilePlanning(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	hold := filepath.Join(h.logDir, "hold-plan")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	head := alphaPR(t, h, 1, "slow", "alpha-queue-v2")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	const name = "tfpr plan: microservices/alpha/dev"
	eventually(t, 2*time.Minute, "terraform plan started", func() bool {
		_, err := os.Stat(filepath.Join(h.logDir, "plan-held"))
		return err == nil
	})
	running := h.checkRuns(name, head)
	agg := h.checkRuns("tfpr", head)
	if len(running) != 1 || running[0].Status != "in_progress" || len(agg) != 1 || agg[0].Status != "in_progress" {
		t.Fatalf("while terraform plans: project checks %+v, aggregate %+v; want one of each, in progress", running, agg)
	}
	if len(h.botComments(1)) != 0 {
		t.Fatal("a comment was posted before the plan finished")
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "check completed", func() bool {
		cr := h.checkRuns(name, head)
		return len(cr) == 1 && cr[0].Status == "completed"
	})
	done := h.checkRuns(name, head)[0]
	if done.ID != running[0].ID || done.Conclusion != "success" || !strings.Contains(done.Summary, "terraform_data.queue") {
		t.Fatalf("the in-progress check run %d must be the one completed: %+v", running[0].ID, done)
	}
}

// Commands are answered with a reaction and in the living comment: no
// comment per command, usage for `tfpr help`, a suggestion for a typo.
func TestCommandRepliesAreReactions(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	head := alphaPR(t, h, 1, "cmds", "alpha-queue-v2")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "plan", func() bool { return h.planShownFor(1, head) })
	h.repo.SetPermission("dev-alice", "write")

	typo := h.repo.AddComment(t, 1, "dev-alice", "tfpr aply")
	h.deliver("issue_comment", h.repo.CommentPayloadID(t, 1, typo, "dev-alice", "tfpr aply"))
	eventually(t, time.Minute, "reaction to the typo", func() bool { return slices.Contains(h.repo.Reactions(typo), "confused") })
	eventually(t, time.Minute, "suggestion", func() bool { return len(h.commentsContaining(1, "Did you mean `tfpr apply`?")) == 1 })

	help := h.repo.AddComment(t, 1, "dev-alice", "tfpr help")
	h.deliver("issue_comment", h.repo.CommentPayloadID(t, 1, help, "dev-alice", "tfpr help"))
	eventually(t, time.Minute, "usage", func() bool {
		return slices.Contains(h.repo.Reactions(help), "+1") && len(h.commentsContaining(1, "| `tfpr plan -p DIR` |")) == 1
	})
	bot := h.botComments(1)
	if len(bot) != 1 || !strings.Contains(bot[0].Body, "terraform_data.queue") || strings.Contains(bot[0].Body, "Did you mean") {
		t.Fatalf("tfpr must answer in its one living comment (plan kept, the older reply replaced): %+v", bot)
	}

	replan := h.repo.AddComment(t, 1, "dev-alice", "tfpr plan")
	h.deliver("issue_comment", h.repo.CommentPayloadID(t, 1, replan, "dev-alice", "tfpr plan"))
	eventually(t, 2*time.Minute, "re-plan", func() bool {
		return slices.Contains(h.repo.Reactions(replan), "+1") && h.invocations("plan", "microservices/alpha/dev") == 2
	})
	eventually(t, time.Minute, "living comment re-rendered", func() bool { return len(h.commentsContaining(1, "tfpr:reply")) == 0 })
	if n := len(h.botComments(1)); n != 1 {
		t.Fatalf("tfpr has %d comments after three commands, want its one living comment", n)
	}
}

// A re-plan of applied resources makes terraform print its progress
// ("Refreshing state..."); the comment shows the plan without it, and
// counts a replacement as one.
func TestPlanCommentDropsTerraformProgress(t *testing.T) {
	h := start(t, nil)
	base := seed(t, h.repo)
	alphaPR(t, h, 1, "first", "alpha-queue-v2")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "plan #1", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) > 0 })
	m := h.repo.Merge(t, 1, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", base, m))
	eventually(t, 2*time.Minute, "apply #1", func() bool { return len(h.commentsContaining(1, "tfpr apply for")) > 0 })

	// Replacing the applied resource: the worker's plan must reach the
	// summary table and the warning, which read terraform's JSON.
	head := h.repo.Commit(t, "second", map[string]string{"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input            = "alpha-queue-v3"
  triggers_replace = "v3"
}
`}, "alpha: replace the queue")
	h.repo.OpenPR(t, 2, "second", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 2, "opened"))
	eventually(t, 2*time.Minute, "plan #2", func() bool { return h.planShownFor(2, head) })
	raw, err := os.ReadFile(filepath.Join(h.logDir, "plan-output"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "terraform_data.queue: Refreshing state... [id=") {
		t.Fatalf("terraform's plan output has no progress line to drop; the test shows nothing:\n%s", raw)
	}
	c := h.commentsContaining(2, "tfpr plan for")[0]
	if strings.Contains(c, "Refreshing state") || !strings.Contains(c, "alpha-queue-v3") || !strings.Contains(c, "```diff") {
		t.Fatalf("the comment must show the plan as a diff without terraform's progress lines:\n%s", c)
	}
	if !strings.Contains(c, "| 0 | 0 | 0 | **1** |") || !strings.Contains(c, "terraform_data.queue") {
		t.Fatalf("the table must count one replacement (not an add and a delete):\n%s", c)
	}
	// Labels are synced after the comment is written.
	eventually(t, time.Minute, "the PR labelled tfpr:destroy", func() bool { return slices.Contains(h.repo.Labels(2), "tfpr:destroy") })
}
