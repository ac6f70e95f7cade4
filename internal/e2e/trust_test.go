package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/store"
)

// alphaPR commits a change to alpha on branch and opens PR number.
func alphaPR(t *testing.T, h *harness, number int, branch, input string) string {
	t.Helper()
	sha := h.repo.Commit(t, branch, map[string]string{
		"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "` + input + `"
}
`}, "alpha: "+input)
	h.repo.OpenPR(t, number, branch, "dev-alice")
	return sha
}

// patch rewrites a JSON payload.
func patch(t *testing.T, body []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestForkPRLintsButNeverRunsTerraform(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	head := alphaPR(t, h, 5, "from-fork", "fork-change")
	body := patch(t, h.repo.PullRequestPayload(t, 5, "opened"), func(m map[string]any) {
		hr := m["pull_request"].(map[string]any)["head"].(map[string]any)["repo"].(map[string]any)
		hr["full_name"] = "mallory/microservices-terraform"
		hr["fork"] = true
	})
	h.deliver("pull_request", body)
	eventually(t, time.Minute, "comment on fork PR", func() bool { return len(h.commentsContaining(5, "tfpr plan")) > 0 })
	c := h.commentsContaining(5, "tfpr plan")[0]
	if !strings.Contains(c, "fork") || !strings.Contains(c, "push the branch") {
		t.Errorf("fork comment should say why terraform did not run and how to get a plan:\n%s", c)
	}
	if cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head); !ok || cr.Conclusion != "neutral" {
		t.Errorf("fork check run: %+v (found %v), want neutral", cr, ok)
	}
	if n := len(h.terraformEnvs()); n != 0 {
		t.Fatalf("terraform ran %d times for a fork PR", n)
	}
}

func TestCommandsNeedWriteAccess(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	alphaPR(t, h, 6, "cmd", "cmd-change")
	h.repo.SetPermission("reader-ruth", "read")
	h.repo.SetPermission("writer-wes", "write")

	h.deliver("issue_comment", h.repo.CommentPayload(t, 6, "reader-ruth", "tfpr plan"))
	eventually(t, time.Minute, "refusal", func() bool { return len(h.commentsContaining(6, "`reader-ruth` commented")) > 0 })
	if c := h.commentsContaining(6, "`reader-ruth` commented")[0]; !strings.Contains(c, "needs write access") {
		t.Fatalf("refusal should say write access is needed: %s", c)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(h.terraformEnvs()); n != 0 {
		t.Fatalf("a read-only user's command ran terraform %d times", n)
	}

	h.deliver("issue_comment", h.repo.CommentPayload(t, 6, "writer-wes", "please\ntfpr plan -p microservices/alpha/dev"))
	eventually(t, 2*time.Minute, "plan from writer's command", func() bool { return len(h.commentsContaining(6, "tfpr plan for")) > 0 })
	if n := h.invocations("plan", "microservices/alpha/dev"); n != 1 {
		t.Fatalf("writer's tfpr plan ran terraform plan %d times, want 1", n)
	}

	h.deliver("issue_comment", h.repo.CommentPayload(t, 6, "writer-wes", "tfpr help"))
	eventually(t, time.Minute, "help", func() bool { return len(h.commentsContaining(6, "tfpr approve RULE")) > 0 })
}

func TestPolicyOverrideNeedsAnotherApprover(t *testing.T) {
	h := start(t, map[string]string{"TFPR_APPROVER_USERS": "lead-carol,dev-alice"})
	seed(t, h.repo)
	head7 := alphaPR(t, h, 7, "override", "x")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 7, "opened"))
	eventually(t, 2*time.Minute, "plan", func() bool { return len(h.commentsContaining(7, "tfpr plan for")) > 0 })
	h.deliver("issue_comment", h.repo.CommentPayload(t, 7, "dev-alice", "tfpr approve TFPR101"))
	eventually(t, time.Minute, "author refused", func() bool { return len(h.commentsContaining(7, "cannot approve its own")) > 0 })
	h.deliver("issue_comment", h.repo.CommentPayload(t, 7, "random-rob", "tfpr approve TFPR101"))
	eventually(t, time.Minute, "non-approver refused", func() bool { return len(h.commentsContaining(7, "only configured approvers")) > 0 })
	h.deliver("issue_comment", h.repo.CommentPayload(t, 7, "lead-carol", "tfpr approve TFPR101"))
	eventually(t, time.Minute, "approval recorded", func() bool { return len(h.commentsContaining(7, "approved `TFPR101`")) > 0 })
	eventually(t, 2*time.Minute, "re-plan after approval", func() bool { return h.planRounds("microservices/alpha/dev", head7) > 1 })
}

func TestTerraformEnvironmentIsScrubbedAndImpersonates(t *testing.T) {
	// Secrets present in tfpr's own environment must never reach terraform.
	t.Setenv("TFPR_GITHUB_WEBHOOK_SECRET", "process-level-webhook-secret")
	t.Setenv("TFPR_SOMETHING_ELSE", "tfpr-setting")
	t.Setenv("GITHUB_TOKEN", "ghs_processlevelleakytoken000000")
	h := start(t, map[string]string{
		"TFPR_IMPERSONATE_TEMPLATE":     "tf-{service}-{env}@{platform_project}.iam.gserviceaccount.com",
		"TFPR_PLATFORM_PROJECT":         "acme-platform",
		"TFPR_INSECURE_SHARED_IDENTITY": "false",
		"TFPR_IAM_CREDENTIALS_ENDPOINT": fakeIAM(t),
	})
	seed(t, h.repo)
	alphaPR(t, h, 8, "env", "env-change")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 8, "opened"))
	eventually(t, 2*time.Minute, "plan result", func() bool { return len(h.commentsContaining(8, "tfpr plan for")) > 0 })
	envs := h.terraformEnvs()
	if len(envs) == 0 {
		t.Fatal("terraform never ran")
	}
	key, _ := os.ReadFile(h.env["TFPR_GITHUB_PRIVATE_KEY_FILE"])
	forbidden := []string{string(h.secret), "process-level-webhook-secret", h.env["TFPR_GITHUB_PRIVATE_KEY_FILE"], "ghs_", "x-access-token", "TFPR_", "GITHUB_TOKEN", "STORAGE_EMULATOR_HOST"}
	// Also the server's own `version` at start: no secret, no identity.
	for _, r := range h.recordedEnvs() {
		for _, f := range append(forbidden, "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS") {
			if strings.Contains(r.env, f) && (r.sub == "version" || !strings.HasPrefix(f, "GOOGLE_")) {
				t.Errorf("terraform %s's environment contains %q:\n%s", r.sub, f, r.env)
			}
		}
		if bytes.Contains([]byte(r.env), bytes.TrimSpace(key)[40:80]) {
			t.Errorf("terraform %s's environment contains the App private key", r.sub)
		}
	}
	for _, env := range envs {
		// Only a token minted for the project's own account: nothing that
		// could impersonate anyone, and never tfpr's own token.
		const sa = "tf-alpha-dev@acme-platform.iam.gserviceaccount.com"
		if !strings.Contains(env, "GOOGLE_OAUTH_ACCESS_TOKEN="+mintedFor(sa)+"\n") {
			t.Errorf("terraform's environment lacks the token minted for %s:\n%s", sa, env)
		}
		for _, f := range []string{"IMPERSONATE", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN=fake"} {
			if strings.Contains(env, f) {
				t.Errorf("terraform's environment holds %s:\n%s", f, env)
			}
		}
	}
	// Comments never carry tokens either.
	for _, c := range h.repo.Comments(8) {
		if strings.Contains(c.Body, "ghs_") {
			t.Errorf("comment carries a token: %s", c.Body)
		}
	}
}

func TestTokensAreNarrow(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	alphaPR(t, h, 9, "narrow", "narrow-change")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 9, "opened"))
	eventually(t, 2*time.Minute, "plan comment", func() bool { return len(h.commentsContaining(9, "tfpr plan for")) > 0 })
	grants := h.gh.Tokens()
	if len(grants) == 0 {
		t.Fatal("no token was issued")
	}
	allowed := []string{"contents", "pull_requests", "checks", "issues", "metadata"}
	for _, g := range grants {
		if !slices.Equal(g.Repositories, []string{repoName}) {
			t.Errorf("token granted for repositories %v, want only %s", g.Repositories, repoName)
		}
		for p, level := range g.Permissions {
			if !slices.Contains(allowed, p) {
				t.Errorf("token asks for permission %s:%s tfpr does not use", p, level)
			}
		}
		if g.Permissions["contents"] != "read" {
			t.Errorf("contents permission %q, want read", g.Permissions["contents"])
		}
	}
}

func TestRepositoryOutsideAllowlistRunsNothing(t *testing.T) {
	h := start(t, map[string]string{"TFPR_REPO_ALLOWLIST": "acme/platform-*"})
	seed(t, h.repo)
	alphaPR(t, h, 10, "not-allowed", "nope")
	if code := h.deliver("pull_request", h.repo.PullRequestPayload(t, 10, "opened")); code != http.StatusAccepted {
		t.Fatalf("delivery for a repository outside the allowlist: status %d, want 202 (acknowledged)", code)
	}
	time.Sleep(time.Second)
	if n := len(h.repo.Comments(10)) + len(h.terraformEnvs()) + len(h.gh.Tokens()); n != 0 {
		t.Fatalf("a repository outside the allowlist caused %d comments, terraform runs or tokens", n)
	}
}

func TestOversizedBodyIsRefusedUnread(t *testing.T) {
	h := start(t, nil)
	body := bytes.Repeat([]byte("a"), 26<<20)
	req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "big-1")
	req.Header.Set("X-Hub-Signature-256", githubtest.Sign(h.secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("26 MiB body: status %d, want 413", resp.StatusCode)
	}
}

func TestPlanFilesArePrivateAndDeletedOnClose(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	alphaPR(t, h, 11, "files", "files-change")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 11, "opened"))
	eventually(t, 2*time.Minute, "plan comment", func() bool { return len(h.commentsContaining(11, "tfpr plan for")) > 0 })
	plans := planFiles(t, h.data)
	if len(plans) == 0 {
		t.Fatal("no plan file kept for the PR")
	}
	for _, p := range plans {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("plan file %s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	closed := patch(t, h.repo.PullRequestPayload(t, 11, "closed"), func(m map[string]any) {
		pr := m["pull_request"].(map[string]any)
		pr["merged"] = false
		pr["merge_commit_sha"] = nil
	})
	h.deliver("pull_request", closed)
	eventually(t, time.Minute, "plan files deleted after close", func() bool { return len(planFiles(t, h.data)) == 0 })
}

func planFiles(t *testing.T, dataDir string) []string {
	var out []string
	filepath.Walk(filepath.Join(dataDir, "plans"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(p, ".tfplan") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// A plan-stage denial (too many destroys) fails the check, an approver's
// `tfpr approve` lifts it for that head, and the apply records who approved.
func TestPlanStageDenialNeedsApproval(t *testing.T) {
	params := filepath.Join(t.TempDir(), "params.json")
	os.WriteFile(params, []byte(`{"max_destroy": 0}`), 0o600)
	h := start(t, map[string]string{"TFPR_POLICY_PARAMS_FILE": params, "TFPR_APPROVER_USERS": "lead-carol"})
	base := seed(t, h.repo)
	// Bring alpha's resource into state first.
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", strings.Repeat("0", 40), base))
	eventually(t, 2*time.Minute, "initial apply", func() bool {
		return strings.Contains(string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate"))), "alpha-queue-v1")
	})

	head := h.repo.Commit(t, "drop-queue", map[string]string{"microservices/alpha/dev/main.tf": backend}, "alpha: drop the queue")
	h.repo.OpenPR(t, 3, "drop-queue", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 3, "opened"))
	eventually(t, 2*time.Minute, "plan comment", func() bool { return len(h.commentsContaining(3, "tfpr plan for")) > 0 })
	if cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head); !ok || cr.Conclusion != "failure" {
		t.Fatalf("a destroy over max_destroy must fail the check: %+v (found %v)", cr, ok)
	}
	if c := h.commentsContaining(3, "tfpr plan for")[0]; !strings.Contains(c, "TFPR102") {
		t.Fatalf("comment should name the plan-stage rule:\n%s", c)
	}

	h.deliver("issue_comment", h.repo.CommentPayload(t, 3, "lead-carol", "tfpr approve TFPR102"))
	eventually(t, 2*time.Minute, "re-plan after approval", func() bool { return h.planRounds("microservices/alpha/dev", head) > 1 })
	eventually(t, time.Minute, "passing check", func() bool {
		var last string
		for _, cr := range h.repo.CheckRuns() {
			if cr.Name == "tfpr plan: microservices/alpha/dev" && cr.HeadSHA == head {
				last = cr.Conclusion
			}
		}
		return last == "success"
	})

	before := h.repo.Head(t, "main")
	m := h.repo.Merge(t, 3, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, m))
	eventually(t, 2*time.Minute, "apply", func() bool { return len(h.commentsContaining(3, "Apply complete")) > 0 })
	if strings.Contains(string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate"))), "alpha-queue-v1") {
		t.Fatal("the approved destroy was not applied")
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.ListRuns(context.Background(), "apply", 1)
	if len(runs) != 1 || runs[0].ApprovedBy != "lead-carol" || runs[0].MergedBy != "lead-carol" || len(runs[0].PlanHash) != 64 {
		t.Fatalf("audit record = %+v, want approver, merger and plan hash", runs)
	}
}
