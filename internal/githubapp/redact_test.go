package githubapp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
)

// Whatever a caller hands this package, the credentials in it never reach
// GitHub: not in comments, issues, check-run output or annotations.
func TestEverythingSentToGitHubIsMasked(t *testing.T) {
	c, repo := newClient(t)
	pemKey := "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"
	token := "ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop"
	leaky := "input = " + pemKey + " token " + token + " key AKIAIOSFODNN7EXAMPLE gh ghs_" + strings.Repeat("x", 36)
	ctx := context.Background()

	if _, err := c.Comment(ctx, 1, leaky); err != nil {
		t.Fatal(err)
	}
	ann := make([]githubapp.Annotation, 60) // over one request's 50: the follow-up is masked too
	for i := range ann {
		ann[i] = githubapp.Annotation{Path: "main.tf", StartLine: 1, Level: "warning", Title: "t " + token, Message: leaky}
	}
	head := repo.Head(t, "feature")
	id, err := c.CreateCheckRun(ctx, githubapp.CheckRun{Name: "tfpr plan: p", HeadSHA: head, Status: "in_progress", Title: "plan " + token, Summary: leaky, Text: leaky, Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateCheckRun(ctx, id, githubapp.CheckRun{Name: "tfpr plan: p", Status: "completed", Conclusion: "failure", Title: "t", Summary: "s", Text: leaky}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureIssue(ctx, "apply failed "+token, "tfpr", leaky); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseIssue(ctx, 2, leaky); err != nil {
		t.Fatal(err)
	}

	var sent []string
	for _, cm := range repo.Comments(1) {
		sent = append(sent, cm.Body)
	}
	for _, cr := range repo.CheckRuns() {
		sent = append(sent, cr.Title, cr.Summary, cr.Text)
		for _, a := range cr.Annotations {
			sent = append(sent, a.Title, a.Message)
		}
	}
	for _, is := range repo.Issues() {
		sent = append(sent, is.Title, is.Body)
		for _, cm := range is.Comments {
			sent = append(sent, cm.Body)
		}
	}
	if len(sent) < 10 {
		t.Fatalf("the fake recorded only %d texts; the calls did not arrive", len(sent))
	}
	for _, s := range sent {
		for _, secret := range []string{"MIIEowIBAAKCAQEA", "PRIVATE KEY", "ya29.", "AKIAIOSFODNN7EXAMPLE", "ghs_"} {
			if strings.Contains(s, secret) {
				t.Errorf("GitHub received %q:\n%s", secret, s)
			}
		}
	}
}
