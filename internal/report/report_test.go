package report

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/terraform"
)

var update = flag.Bool("update", false, "rewrite golden files")

const sha = "0123456789abcdef0123456789abcdef01234567"

func alphaPlan() *terraform.Plan {
	return &terraform.Plan{HasChanges: true, Add: 1, Change: 1, Destroy: 0,
		Text: "Terraform will perform the following actions:\n\n  # terraform_data.topic will be created\n  + resource \"terraform_data\" \"topic\" {\n      + input = \"alpha-topic\"\n    }\n\nPlan: 1 to add, 1 to change, 0 to destroy.\n"}
}

func denied() Result {
	return Result{Project: "microservices/beta/dev", Outcome: Denied, Findings: []policy.Finding{
		{Rule: "TFPR001", Title: "no external data", Severity: policy.SeverityDeny, Message: `data "external" runs programs during plan`, File: "modules/naming/main.tf", Line: 5, EndLine: 7, Address: "data.external.whoami"},
		{Rule: "TFPR007", Severity: policy.SeverityWarn, Message: "google_storage_bucket.b lacks labels: owner", File: "microservices/beta/dev/main.tf", Line: 12},
		{Rule: "TFPR004", Severity: policy.SeverityDeny, Message: "project must be beta-dev", File: "microservices/beta/dev/main.tf", Line: 9, Suppressed: true, SuppressReason: "shared network, see INFRA-12"},
	}}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test ./internal/report -update to accept):\n--- got ---\n%s", name, path, got)
	}
}

func TestCommentGolden(t *testing.T) {
	tests := []struct {
		name  string
		round Round
	}{
		{"plan_mixed", Round{Kind: "plan", SHA: sha, PR: 4, Results: []Result{denied(), {Project: "microservices/alpha/dev", Outcome: Planned, Plan: alphaPlan()}}}},
		{"plan_no_changes", Round{Kind: "plan", SHA: sha, PR: 4, Results: []Result{{Project: "microservices/alpha/dev", Outcome: Planned, Plan: &terraform.Plan{}}}}},
		{"plan_fork", Round{Kind: "plan", SHA: sha, Notes: []string{"This PR comes from a fork."}, Results: []Result{{Project: "microservices/alpha/dev", Outcome: Skipped}}}},
		{"apply_failed", Round{Kind: "apply", SHA: sha, PR: 4, Results: []Result{{Project: "microservices/alpha/dev", Outcome: ApplyFailed,
			Notes: []string{"The state changed after the reviewed plan was made, so tfpr re-planned on the merge commit."}, Output: "Error: creating bucket: 409 already exists"}}}},
		{"none", Round{Kind: "plan", SHA: sha}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { golden(t, tt.name, Comment(tt.round)) })
	}
}

func TestCommentFitsGitHubLimit(t *testing.T) {
	huge := strings.Repeat("  + resource \"terraform_data\" \"x\" { input = \"abcdefghijklmnopqrstuvwxyz\" }\n", 5000)
	var results []Result
	for _, p := range []string{"a", "b", "c"} {
		results = append(results, Result{Project: "microservices/" + p + "/dev", Outcome: Planned,
			Plan: &terraform.Plan{HasChanges: true, Add: 5000, Text: huge}})
	}
	c := Comment(Round{Kind: "plan", SHA: sha, PR: 1, Results: results})
	if n := len(c); n > githubapp.MaxCommentChars {
		t.Fatalf("comment is %d characters, over GitHub's %d", n, githubapp.MaxCommentChars)
	}
	for _, p := range []string{"a", "b", "c"} {
		if !strings.Contains(c, "`microservices/"+p+"/dev`") {
			t.Errorf("project %s lost from the summary", p)
		}
	}
	if strings.Count(c, "more characters truncated") != 3 {
		t.Errorf("each of the 3 plans should say it was truncated:\n%s", c[:500])
	}
	cr := Check("plan", sha, results[0])
	if len(cr.Text) > githubapp.MaxCheckOutputChars || !strings.Contains(cr.Text, "truncated") {
		t.Errorf("check run text is %d characters (limit %d) or does not say it was truncated", len(cr.Text), githubapp.MaxCheckOutputChars)
	}
}

func TestFenceSurvivesBackticksInOutput(t *testing.T) {
	text := "value = <<EOT\n```\nnot the end\n```\nEOT\n"
	c := Comment(Round{Kind: "plan", SHA: sha, PR: 1, Results: []Result{{Project: "p", Outcome: Planned, Plan: &terraform.Plan{HasChanges: true, Text: text}}}})
	if !strings.Contains(c, "````\n"+text) {
		t.Fatalf("plan text with ``` must be fenced with a longer fence:\n%s", c)
	}
}

func TestCheckRun(t *testing.T) {
	cr := Check("plan", sha, denied())
	if cr.Name != "tfpr plan: microservices/beta/dev" || cr.Conclusion != "failure" || cr.HeadSHA != sha {
		t.Fatalf("check run = %+v", cr)
	}
	if len(cr.Annotations) != 3 {
		t.Fatalf("want one annotation per finding, got %+v", cr.Annotations)
	}
	want := map[string]string{"modules/naming/main.tf:5": "failure", "microservices/beta/dev/main.tf:12": "warning", "microservices/beta/dev/main.tf:9": "notice"}
	for _, a := range cr.Annotations {
		key := a.Path + ":" + strconv.Itoa(a.StartLine)
		if want[key] != a.Level {
			t.Errorf("annotation %s has level %q, want %q", key, a.Level, want[key])
		}
	}
	ok := Check("plan", sha, Result{Project: "p", Outcome: Planned, Plan: alphaPlan()})
	if ok.Conclusion != "success" || ok.Title != "Plan: 1 to add, 1 to change, 0 to destroy" {
		t.Fatalf("passing check = %+v", ok)
	}
	if w := Check("plan", sha, Result{Project: "p", Outcome: Planned, Plan: alphaPlan(), Findings: []policy.Finding{{Rule: "TFPR020", Severity: policy.SeverityDeny, Message: "deletes a bucket"}}}); w.Conclusion != "failure" {
		t.Fatalf("a plan-stage deny must fail the check, got %q", w.Conclusion)
	}
}

func TestExternalIDRoundTrips(t *testing.T) {
	if k, p, ok := ParseExternalID(ExternalID("plan", "microservices/a/dev")); !ok || k != "plan" || p != "microservices/a/dev" {
		t.Errorf("round trip = %q %q %v", k, p, ok)
	}
	for _, id := range []string{"", "plan", "plan:", ":microservices/a/dev", "someone-else"} {
		if _, _, ok := ParseExternalID(id); ok {
			t.Errorf("ParseExternalID(%q) accepted", id)
		}
	}
}
