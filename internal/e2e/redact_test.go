package e2e

import (
	"strings"
	"testing"
	"time"
)

// A plan that prints a private key and a Google access token (terraform
// shows terraform_data's input in full: it is not a sensitive attribute)
// reaches GitHub with both masked, in the comment and in the check run.
func TestCredentialsInPlanAreMaskedOnGitHub(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	const keyBody = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
	const token = "ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop"
	head := h.repo.Commit(t, "leaky", map[string]string{
		"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v1"
}

resource "terraform_data" "key" {
  input = "-----BEGIN RSA PRIVATE KEY-----\n` + keyBody + `\n-----END RSA PRIVATE KEY-----\n"
}

resource "terraform_data" "token" {
  input = "` + token + `"
}
`}, "alpha: add credentials by mistake")
	h.repo.OpenPR(t, 1, "leaky", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 3*time.Minute, "plan comment on #1", func() bool { return len(h.commentsContaining(1, "tfpr plan")) > 0 })
	comment := h.commentsContaining(1, "tfpr plan")[0]
	cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head)
	if !ok {
		t.Fatalf("no completed check run for alpha at %s", head)
	}
	if !strings.Contains(comment, "terraform_data.key") || !strings.Contains(cr.Text, "terraform_data.token") {
		t.Fatalf("the plan did not reach GitHub at all:\n%s\n---\n%s", comment, cr.Text)
	}
	for where, body := range map[string]string{"comment": comment, "check run summary": cr.Summary, "check run text": cr.Text} {
		for _, secret := range []string{keyBody, "PRIVATE KEY", token} {
			if strings.Contains(body, secret) {
				t.Errorf("the %s holds %q:\n%s", where, secret, body)
			}
		}
	}
}
