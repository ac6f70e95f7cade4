package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
)

const backend = `terraform {
  backend "gcs" {}
}
`

// seed lays out a small monorepo on main: two services and a shared module
// that beta calls.
func seed(t *testing.T, repo *githubtest.Repo) string {
	return repo.Commit(t, "main", map[string]string{
		"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v1"
}
`,
		"microservices/beta/dev/main.tf": backend + `
module "naming" {
  source = "../../../modules/naming"
  name   = "beta"
}

resource "terraform_data" "db" {
  input = module.naming.id
}
`,
		"modules/naming/main.tf": `variable "name" {
  type = string
}

output "id" {
  value = "acme-${var.name}"
}
`,
		"CODEOWNERS": "/microservices/alpha/ @acme/alpha\n/microservices/beta/ @acme/beta\n",
	}, "seed monorepo")
}

func TestCoreFlow(t *testing.T) {
	h := start(t, nil)
	before := seed(t, h.repo)

	// 1. A delivery with a bad signature is refused before anything else.
	body := h.repo.PushPayload(t, "refs/heads/main", before, before)
	resp := h.gh.Deliver(t, h.url, []byte("not-the-secret"), "push", body)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: status %d, want 401", resp.StatusCode)
	}

	// 2. A PR changing alpha gets a plan comment and a passing check run.
	head := h.repo.Commit(t, "alpha-more", map[string]string{
		"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v1"
}

resource "terraform_data" "topic" {
  input = "alpha-topic"
}
`}, "alpha: add a topic")
	h.repo.OpenPR(t, 1, "alpha-more", "dev-alice")
	start := time.Now()
	if code := h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened")); code/100 != 2 {
		t.Fatalf("pull_request opened: status %d", code)
	}
	eventually(t, 3*time.Minute, "plan comment on #1", func() bool { return len(h.commentsContaining(1, "tfpr plan")) > 0 })
	t.Logf("webhook to plan comment: %s (terraform included)", time.Since(start))
	comment := h.commentsContaining(1, "tfpr plan")[0]
	for _, want := range []string{"microservices/alpha/dev", "Plan: 2 to add, 0 to change, 0 to destroy", "terraform_data.topic", "<details>"} {
		if !strings.Contains(comment, want) {
			t.Errorf("plan comment lacks %q:\n%s", want, comment)
		}
	}
	if strings.Contains(comment, "microservices/beta/dev") {
		t.Errorf("plan comment mentions beta, which the PR does not touch:\n%s", comment)
	}
	cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head)
	if !ok || cr.Conclusion != "success" {
		t.Fatalf("check run for alpha at %s: %+v (found %v), want success", head, cr, ok)
	}
	// The plan started terraform three times; its version was asked once,
	// by the server at start, not again by the run's worker.
	for cmd, want := range map[string]int{"init": 1, "plan": 1, "show": 1} {
		if n := h.invocations(cmd, "microservices/alpha/dev"); n != want {
			t.Errorf("terraform %s ran %d times for one plan of alpha, want %d", cmd, n, want)
		}
	}
	if n := h.invocations("version", ""); n != 1 {
		t.Errorf("terraform version ran %d times after one plan, want once (at server start)", n)
	}

	// 3. A change to the shared module plans its caller; a policy violation
	// in it fails the check at the right line and terraform never runs.
	bad := h.repo.Commit(t, "beta-external", map[string]string{
		"modules/naming/main.tf": `variable "name" {
  type = string
}

data "external" "whoami" {
  program = ["sh", "-c", "id"]
}

output "id" {
  value = "acme-${var.name}"
}
`}, "naming: ask the shell")
	h.repo.OpenPR(t, 2, "beta-external", "dev-bob")
	plansBefore := h.invocations("plan", "")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 2, "opened"))
	eventually(t, 2*time.Minute, "policy comment on #2", func() bool { return len(h.commentsContaining(2, "tfpr plan")) > 0 })
	cr, ok = h.checkRun("tfpr plan: microservices/beta/dev", bad)
	if !ok || cr.Conclusion != "failure" {
		t.Fatalf("check run for beta: %+v (found %v), want failure", cr, ok)
	}
	var found bool
	for _, a := range cr.Annotations {
		if a.Path == "modules/naming/main.tf" && a.StartLine == 5 && a.Level == "failure" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no failure annotation at modules/naming/main.tf:5; got %+v", cr.Annotations)
	}
	comment2 := h.commentsContaining(2, "tfpr plan")[0]
	if !strings.Contains(comment2, "modules/naming/main.tf:5") || !strings.Contains(comment2, "not** run") {
		t.Errorf("policy comment should name the file:line and say terraform did not run:\n%s", comment2)
	}
	if n := h.invocations("plan", "") - plansBefore; n != 0 {
		t.Fatalf("terraform plan ran %d times for a policy-denied PR", n)
	}
	if n := h.invocations("init", "microservices/beta/dev"); n != 0 {
		t.Fatalf("terraform init ran %d times in the denied project", n)
	}

	// 4. Merge PR 1: GitHub announces it twice (closed + push) and
	// redelivers; tfpr applies exactly once and reports on the PR.
	mainBefore := h.repo.Head(t, "main")
	merge := h.repo.Merge(t, 1, "lead-carol")
	closed := h.repo.PullRequestPayload(t, 1, "closed")
	push := h.repo.PushPayload(t, "refs/heads/main", mainBefore, merge)
	h.gh.DeliverID(t, h.url, h.secret, "pull_request", "merge-delivery-1", closed)
	h.gh.DeliverID(t, h.url, h.secret, "push", "push-delivery-1", push)
	if code := h.gh.DeliverID(t, h.url, h.secret, "pull_request", "merge-delivery-1", closed).StatusCode; code != http.StatusOK {
		t.Errorf("redelivery of the same delivery id: status %d, want 200 duplicate", code)
	}
	h.deliver("push", push) // a new delivery id for the same push
	eventually(t, 3*time.Minute, "apply comment on #1", func() bool { return len(h.commentsContaining(1, "tfpr apply")) > 0 })
	applyComment := h.commentsContaining(1, "tfpr apply")[0]
	if !strings.Contains(applyComment, "Apply complete") {
		t.Fatalf("apply comment does not report success:\n%s", applyComment)
	}
	cr, ok = h.checkRun("tfpr apply: microservices/alpha/dev", merge)
	if !ok || cr.Conclusion != "success" {
		t.Fatalf("apply check run on merge commit: %+v (found %v)", cr, ok)
	}
	time.Sleep(2 * time.Second) // let any duplicate apply surface
	if n := h.invocations("apply", "microservices/alpha/dev"); n != 1 {
		t.Fatalf("terraform apply ran %d times for one merge, want exactly 1", n)
	}
	state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")))
	for _, want := range []string{`"terraform_data"`, `"topic"`, "alpha-topic"} {
		if !strings.Contains(state, want) {
			t.Fatalf("state in GCS lacks %s:\n%s", want, state)
		}
	}

	// 5. State round-trips through GCS: a PR that changes only a comment
	// in alpha plans "No changes".
	h.repo.Commit(t, "alpha-comment", map[string]string{
		"microservices/alpha/dev/notes.tf": "# queue and topic for alpha\n",
	}, "alpha: notes")
	h.repo.OpenPR(t, 3, "alpha-comment", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 3, "opened"))
	eventually(t, 2*time.Minute, "plan comment on #3", func() bool { return len(h.commentsContaining(3, "tfpr plan")) > 0 })
	if c := h.commentsContaining(3, "tfpr plan")[0]; !strings.Contains(c, "No changes") {
		t.Fatalf("second plan after apply should say No changes (state read from GCS):\n%s", c)
	}
}

// The Re-run button on a project's plan check re-plans that project.
func TestRerunButtonReplansTheProject(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	head := alphaPR(t, h, 1, "rerun", "rerun-me")
	prBody := h.repo.PullRequestPayload(t, 1, "opened")
	h.deliver("pull_request", prBody)
	eventually(t, 2*time.Minute, "first plan", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) == 1 })

	var pr map[string]any
	if err := json.Unmarshal(prBody, &pr); err != nil {
		t.Fatal(err)
	}
	repoObj := pr["repository"]
	raw, err := os.ReadFile(filepath.Join(githubtest.FixtureDir(t), "check_run", "rerequested.payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := patch(t, raw, func(m map[string]any) {
		m["repository"] = repoObj
		m["installation"] = map[string]any{"id": installation}
		cr := m["check_run"].(map[string]any)
		cr["head_sha"] = head
		cr["external_id"] = "plan:microservices/alpha/dev"
		cr["name"] = "tfpr plan: microservices/alpha/dev"
		cr["pull_requests"] = []any{map[string]any{
			"number": 1,
			"head":   map[string]any{"sha": head, "ref": "rerun", "repo": repoObj},
			"base":   map[string]any{"ref": "main", "repo": repoObj},
		}}
	})
	if code := h.deliver("check_run", body); code != http.StatusAccepted {
		t.Fatalf("check_run rerequested: status %d", code)
	}
	eventually(t, 2*time.Minute, "plan after Re-run", func() bool { return h.planRounds("microservices/alpha/dev", head) == 2 })
	if n := len(h.botComments(1)); n != 1 {
		t.Fatalf("the re-plan must edit the living comment; tfpr has %d comments", n)
	}
	if n := h.invocations("plan", "microservices/alpha/dev"); n != 2 {
		t.Fatalf("alpha planned %d times, want 2", n)
	}
}
