package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// planFixture is a plan real terraform made (testdata/plans/NAME.txt and
// .json, from `terraform show`), summarized as terraform.Exec.Plan does.
func planFixture(t testing.TB, name string) *terraform.Plan {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "plans", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join("testdata", "plans", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := terraform.SummaryOf(js)
	if err != nil {
		t.Fatal(err)
	}
	return &terraform.Plan{HasChanges: name != "nochange", Text: strings.TrimSpace(string(text)), JSON: js, Summary: s}
}

func planned(t testing.TB, project, fixture string) Result {
	return Result{Project: project, Outcome: Planned, Plan: planFixture(t, fixture)}
}

func errored(t testing.TB, project string) Result {
	text, err := os.ReadFile(filepath.Join("testdata", "plans", "error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return Result{Project: project, Outcome: Errored, Output: "terraform plan in " + project + ": exit status 1\n\n" + string(text)}
}

// deniedInModule is a project a policy denied for code in a module it calls.
func deniedInModule(project string) Result {
	return Result{Project: project, Outcome: Denied, Findings: []policy.Finding{
		{Rule: "TFPR001", Title: "no external data", Severity: policy.SeverityDeny, Message: `data "external" runs programs during plan`, File: "modules/naming/main.tf", Line: 5, EndLine: 7, Address: "module.naming.data.external.whoami"},
		{Rule: "TFPR007", Severity: policy.SeverityWarn, Message: "terraform_data.b lacks labels: owner", File: project + "/main.tf", Line: 12},
	}}
}

const repoURL = "https://github.com/acme/infra"

var at = time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)

func planRound(results ...Result) Round {
	return Round{Kind: "plan", SHA: sha, PR: 4, RepoURL: repoURL, At: at, Results: results}
}

// mixed returns n projects cycling through every kind of result.
func mixed(t testing.TB, n int) []Result {
	var out []Result
	for i := range n {
		p := fmt.Sprintf("microservices/svc%03d/dev", i)
		switch i % 9 {
		case 0:
			out = append(out, planned(t, p, "nochange"))
		case 1:
			out = append(out, planned(t, p, "adds"))
		case 2:
			out = append(out, planned(t, p, "destroy"))
		case 3:
			out = append(out, planned(t, p, "replace"))
		case 4:
			out = append(out, planned(t, p, "import_move_remove"))
		case 5:
			out = append(out, planned(t, p, "outputs"))
		case 6:
			out = append(out, errored(t, p))
		case 7:
			out = append(out, deniedInModule(p))
		case 8:
			out = append(out, Result{Project: p, Outcome: Skipped, NotRun: NotRunCap})
		}
	}
	return out
}

// hugePlan is one project's plan of 200,000 lines.
func hugePlan() *terraform.Plan {
	var b strings.Builder
	b.WriteString("Terraform will perform the following actions:\n\n")
	n := 0
	for lines := 2; lines < 200000; lines += 5 {
		fmt.Fprintf(&b, "  # terraform_data.r[%d] will be created\n  + resource \"terraform_data\" \"r\" {\n      + input = \"value-%d\"\n    }\n\n", n, n)
		n++
	}
	fmt.Fprintf(&b, "Plan: %d to add, 0 to change, 0 to destroy.", n)
	return &terraform.Plan{HasChanges: true, Add: n, Text: b.String(), Summary: terraform.Summary{Create: n}}
}

// pages joins a round's comments for one golden file.
func pages(ps []Page) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Body)
	}
	return strings.Join(out, "\n<!-- ======== next comment ======== -->\n")
}

func TestCommentGolden(t *testing.T) {
	tests := []struct {
		name  string
		round Round
	}{
		{"plan_no_changes", planRound(planned(t, "microservices/alpha/dev", "nochange"))},
		{"plan_adds", planRound(planned(t, "microservices/alpha/dev", "adds"))},
		{"plan_destroy", planRound(planned(t, "microservices/alpha/dev", "destroy"))},
		{"plan_replace", planRound(planned(t, "microservices/alpha/dev", "replace"))},
		{"plan_import_move_removed", planRound(planned(t, "microservices/alpha/dev", "import_move_remove"))},
		{"plan_outputs", planRound(planned(t, "microservices/alpha/dev", "outputs"))},
		{"plan_error", planRound(errored(t, "microservices/alpha/dev"), planned(t, "microservices/beta/dev", "adds"))},
		{"plan_denied_module", planRound(deniedInModule("microservices/beta/dev"), planned(t, "microservices/alpha/dev", "nochange"))},
		{"plan_fork", Round{Kind: "plan", SHA: sha, PR: 4, RepoURL: repoURL, At: at, Notes: []string{"This PR comes from a fork, so tfpr ran the policy checks but no terraform."},
			Results: []Result{{Project: "microservices/alpha/dev", Outcome: Skipped, NotRun: NotRunFork}, deniedInModule("microservices/beta/dev")}}},
		{"plan_40_mixed", planRound(mixed(t, 40)...)},
		{"plan_huge", planRound(Result{Project: "microservices/big/dev", Outcome: Planned, Plan: hugePlan()}, planned(t, "microservices/alpha/dev", "adds"))},
		{"plan_400", planRound(mixed(t, 400)...)},
		{"apply_failed", Round{Kind: "apply", SHA: sha, PR: 4, Results: []Result{{Project: "microservices/alpha/dev", Outcome: ApplyFailed,
			Notes: []string{"The state changed after the reviewed plan was made, so tfpr re-planned on the merge commit."}, Output: "Error: creating bucket: 409 already exists"}}}},
		{"none", Round{Kind: "plan", SHA: sha, At: at}},
		// The README shows this one.
		{"readme_example", planRound(planned(t, "microservices/alpha/dev", "adds"), planned(t, "microservices/alpha/prod", "replace"),
			deniedInModule("microservices/beta/dev"), planned(t, "microservices/gamma/dev", "nochange"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := Render(tt.round)
			for i, p := range ps {
				if n := utf8.RuneCountInString(p.Body); n > githubapp.MaxCommentChars {
					t.Errorf("comment %d is %d characters, over GitHub's %d", i+1, n, githubapp.MaxCommentChars)
				}
				if !strings.HasPrefix(p.Body, p.Marker+"\n") || p.Marker != CommentMarker(tt.round.Kind, tt.round.SHA, i+1) {
					t.Errorf("comment %d does not start with its marker %q", i+1, p.Marker)
				}
			}
			golden(t, tt.name, pages(ps))
		})
	}
}

// The sizes the README quotes, and what each case must keep: every
// project in the table, the cut note on a plan too long to show whole.
func TestCommentSizes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		results  []Result
		comments int
	}{{"40 projects", mixed(t, 40), 1}, {"400 projects", mixed(t, 400), 0}, {"200,000-line plan", []Result{{Project: "microservices/big/dev", Outcome: Planned, Plan: hugePlan()}}, 1}} {
		ps := Render(planRound(tc.results...))
		var sizes []int
		all := ""
		for _, p := range ps {
			sizes = append(sizes, utf8.RuneCountInString(p.Body))
			all += p.Body
		}
		t.Logf("%s: %d comment(s), %v characters", tc.name, len(ps), sizes)
		if tc.comments > 0 && len(ps) != tc.comments {
			t.Errorf("%s: %d comments, want %d", tc.name, len(ps), tc.comments)
		}
		if tc.comments == 0 && len(ps) < 2 {
			t.Errorf("%s: want follow-up comments, got %d", tc.name, len(ps))
		}
		for _, r := range tc.results {
			if !strings.Contains(all, "| `"+r.Project+"` |") {
				t.Errorf("%s: %s is missing from the summary table", tc.name, r.Project)
			}
		}
	}
	big := Comment(planRound(Result{Project: "microservices/big/dev", Outcome: Planned, Plan: hugePlan()}))
	if !strings.Contains(big, "lines cut here") || !strings.Contains(big, `the full text is in the check run "tfpr plan: microservices/big/dev" and the run log`) ||
		!strings.Contains(big, "+       input = \"value-0\"") || !strings.Contains(big, "Plan: 40000 to add") {
		t.Errorf("the 200,000-line plan must keep its head and tail and say where the rest is:\n%s", big[:2000])
	}
}

func TestFenceSurvivesBackticksInOutput(t *testing.T) {
	text := "value = <<EOT\n```\nnot the end\n```\nEOT\n"
	c := Comment(Round{Kind: "plan", SHA: sha, PR: 1, Results: []Result{{Project: "p", Outcome: Planned, Plan: &terraform.Plan{HasChanges: true, Text: text}}}})
	if !strings.Contains(c, "````diff\n"+diffMarks(strings.TrimSpace(text))) {
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
	if ok.Conclusion != "success" || ok.Title != "+1 ~1 -0 ±0" {
		t.Fatalf("passing check = %+v", ok)
	}
	if w := Check("plan", sha, Result{Project: "p", Outcome: Planned, Plan: alphaPlan(), Findings: []policy.Finding{{Rule: "TFPR020", Severity: policy.SeverityDeny, Message: "deletes a bucket"}}}); w.Conclusion != "failure" {
		t.Fatalf("a plan-stage deny must fail the check, got %q", w.Conclusion)
	}
}

// The README's example comment is the golden file, so it cannot drift from
// what tfpr renders.
func TestREADMEShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(filepath.Join("testdata", "readme_example.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "`````markdown\n"+string(ex)+"`````\n") {
		t.Error("README.md does not show testdata/readme_example.golden as it is; paste it again after -update")
	}
}

// A PR making thousands of findings still gets a comment within limits
// that lists the denials first and counts the rest.
func TestManyFindingsAreCapped(t *testing.T) {
	var fs []policy.Finding
	for i := range 5000 {
		fs = append(fs, policy.Finding{Rule: "TFPR007", Severity: policy.SeverityWarn, Message: "no labels", File: "microservices/a/dev/main.tf", Line: i + 1})
	}
	fs = append(fs, policy.Finding{Rule: "TFPR001", Severity: policy.SeverityDeny, Message: "external", File: "zz/main.tf", Line: 9})
	ps := Render(planRound(Result{Project: "microservices/a/dev", Outcome: Denied, Findings: fs}))
	if len(ps) != 1 || len(ps[0].Body) > githubapp.MaxCommentChars {
		t.Fatalf("%d comments, first %d characters", len(ps), len(ps[0].Body))
	}
	if !strings.Contains(ps[0].Body, "**TFPR001**") || !strings.Contains(ps[0].Body, "… and 4971 more; the check run annotates every finding.") {
		t.Errorf("the denial must be listed and the rest counted:\n%s", ps[0].Body[:3000])
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
