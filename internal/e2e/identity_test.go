package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// betaProd commits microservices/beta/prod, recording input, on main.
func betaProd(t *testing.T, repo *githubtest.Repo, input string) string {
	return repo.Commit(t, "main", map[string]string{
		"microservices/beta/prod/main.tf": backend + `
resource "terraform_data" "db" {
  input = "` + input + `"
}
`}, "beta prod")
}

// Two repositories both holding microservices/beta/prod apply into two
// states, never into one.
func TestSameDirInTwoRepositoriesHasTwoStates(t *testing.T) {
	h := start(t, map[string]string{"TFPR_REPO_ALLOWLIST": "acme/*"})
	other := h.gh.AddRepo(t, owner, "other-terraform", installation)
	one, two := betaProd(t, h.repo, "from-repo-one"), betaProd(t, other, "from-repo-two")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", zeroSHA, one))
	h.deliver("push", other.PushPayload(t, "refs/heads/main", zeroSHA, two))
	applied := func(repo *githubtest.Repo, sha string) bool {
		for _, cr := range repo.CheckRuns() {
			if cr.Name == "tfpr apply: microservices/beta/prod" && cr.HeadSHA == sha && cr.Status == "completed" {
				return true
			}
		}
		return false
	}
	eventually(t, 3*time.Minute, "both applies", func() bool { return applied(h.repo, one) && applied(other, two) })

	stateOne := string(h.gcs.Object(t, "acme/microservices-terraform/microservices/beta/prod/default.tfstate"))
	stateTwo := string(h.gcs.Object(t, "acme/other-terraform/microservices/beta/prod/default.tfstate"))
	if !strings.Contains(stateOne, "from-repo-one") || strings.Contains(stateOne, "from-repo-two") {
		t.Errorf("first repository's state does not hold exactly its own resource:\n%s", stateOne)
	}
	if !strings.Contains(stateTwo, "from-repo-two") || strings.Contains(stateTwo, "from-repo-one") {
		t.Errorf("second repository's state does not hold exactly its own resource:\n%s", stateTwo)
	}
	if shared := h.gcs.Object(t, "microservices/beta/prod/default.tfstate"); shared != nil {
		t.Errorf("a state keyed by the directory alone was written:\n%s", shared)
	}
}

// The same dir in two repositories runs as two service accounts, with two
// state prefixes handed to terraform init.
func TestSameDirInTwoRepositoriesRunsAsTwoAccounts(t *testing.T) {
	h := start(t, map[string]string{
		"TFPR_REPO_ALLOWLIST":           "acme/*",
		"TFPR_IMPERSONATE_TEMPLATE":     "tf-{repo}-{service}-{env}@acme-platform.iam.gserviceaccount.com",
		"TFPR_INSECURE_SHARED_IDENTITY": "false",
		"TFPR_IAM_CREDENTIALS_ENDPOINT": fakeIAM(t),
	})
	other := h.gh.AddRepo(t, owner, "other-terraform", installation)
	for i, repo := range []*githubtest.Repo{h.repo, other} {
		betaProd(t, repo, "v1")
		repo.Commit(t, "change", map[string]string{"microservices/beta/prod/main.tf": backend + `
resource "terraform_data" "db" {
  input = "v2"
}
`}, "beta prod v2")
		repo.OpenPR(t, 1, "change", "dev-bob")
		h.deliver("pull_request", repo.PullRequestPayload(t, 1, "opened"))
		eventually(t, 2*time.Minute, fmt.Sprintf("plan comment in repository %d", i+1), func() bool {
			for _, c := range repo.Comments(1) {
				if strings.Contains(c.Body, "tfpr plan for") {
					return true
				}
			}
			return false
		})
	}
	envs := strings.Join(h.terraformEnvs(), "\n")
	for _, sa := range []string{
		"tf-microservices-terraform-beta-prod@acme-platform.iam.gserviceaccount.com",
		"tf-other-terraform-beta-prod@acme-platform.iam.gserviceaccount.com",
	} {
		if v := "GOOGLE_OAUTH_ACCESS_TOKEN=" + mintedFor(sa) + "\n"; !strings.Contains(envs, v) {
			t.Errorf("no terraform run had %s", v)
		}
	}
	var prefixes []string
	for _, line := range h.invocationLines() {
		for _, arg := range strings.Fields(line) {
			if p, ok := strings.CutPrefix(arg, "-backend-config=prefix="); ok {
				prefixes = append(prefixes, p)
			}
		}
	}
	for _, want := range []string{"acme/microservices-terraform/microservices/beta/prod", "acme/other-terraform/microservices/beta/prod"} {
		if !contains(prefixes, want) {
			t.Errorf("terraform init never got prefix %s; prefixes: %v", want, prefixes)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A PR affecting more projects than TFPR_MAX_PROJECTS_PER_PR gets that many
// check runs, and its comment names the projects left out.
func TestProjectsOverTheCapAreListedNotRun(t *testing.T) {
	h := start(t, map[string]string{"TFPR_MAX_PROJECTS_PER_PR": "3"})
	files := map[string]string{}
	for i := range 5 {
		files[fmt.Sprintf("microservices/svc%d/dev/main.tf", i)] = backend + `
module "tag" {
  source = "../../../modules/tag"
}
`
	}
	files["modules/tag/main.tf"] = "output \"tag\" {\n  value = \"v1\"\n}\n"
	h.repo.Commit(t, "main", files, "five services")
	head := h.repo.Commit(t, "retag", map[string]string{"modules/tag/main.tf": "output \"tag\" {\n  value = \"v2\"\n}\n"}, "tag v2")
	h.repo.OpenPR(t, 1, "retag", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 3*time.Minute, "plan comment", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) > 0 })

	var checked []string
	for _, cr := range h.repo.CheckRuns() {
		if cr.HeadSHA == head && strings.HasPrefix(cr.Name, "tfpr plan: ") {
			checked = append(checked, strings.TrimPrefix(cr.Name, "tfpr plan: "))
		}
	}
	slices.Sort(checked) // created as each project's run starts, in parallel
	if want := []string{"microservices/svc0/dev", "microservices/svc1/dev", "microservices/svc2/dev"}; strings.Join(checked, " ") != strings.Join(want, " ") {
		t.Errorf("check runs for %v, want exactly %v", checked, want)
	}
	if n := h.invocations("plan", ""); n != 3 {
		t.Errorf("terraform plan ran %d times, want 3", n)
	}
	c := h.commentsContaining(1, "tfpr plan for")[0]
	for _, want := range []string{"TFPR_MAX_PROJECTS_PER_PR", "affects 5 projects", "`microservices/svc3/dev`", "`microservices/svc4/dev`", "Not checked, not planned"} {
		if !strings.Contains(c, want) {
			t.Errorf("comment lacks %q:\n%s", want, c)
		}
	}
}

// A PR changing only a shared file a project reads with file() plans that
// project.
func TestChangedSharedFilePlansTheProjectReadingIt(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	h.repo.Commit(t, "main", map[string]string{
		"microservices/alpha/dev/data.tf": `
resource "terraform_data" "settings" {
  input = jsondecode(file("${path.module}/../../../shared/data.json"))
}
`,
		"shared/data.json": `{"size": 1}`,
	}, "alpha reads shared data")
	head := h.repo.Commit(t, "data", map[string]string{"shared/data.json": `{"size": 2}`}, "bigger")
	h.repo.OpenPR(t, 1, "data", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 2*time.Minute, "plan comment", func() bool { return len(h.commentsContaining(1, "tfpr plan for")) > 0 })
	if cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head); !ok || cr.Conclusion != "success" {
		t.Fatalf("alpha's plan check: %+v (found %v), want success", cr, ok)
	}
	c := h.commentsContaining(1, "tfpr plan for")[0]
	if !strings.Contains(c, "terraform_data.settings") || strings.Contains(c, "microservices/beta/dev") {
		t.Errorf("comment should plan alpha (which reads shared/data.json) and only alpha:\n%s", c)
	}
}
