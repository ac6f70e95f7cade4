package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
)

func labelNames(ls []Label) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return fmt.Sprint(out)
}

func TestLabelsFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		results []Result
		want    string
	}{
		{"no changes", []Result{planned(t, "a", "nochange")}, "[tfpr:no-changes]"},
		{"adds", []Result{planned(t, "a", "adds"), planned(t, "b", "nochange")}, "[tfpr:changes]"},
		{"destroy", []Result{planned(t, "a", "destroy")}, "[tfpr:destroy tfpr:changes]"},
		{"replace", []Result{planned(t, "a", "replace")}, "[tfpr:destroy tfpr:changes]"},
		{"outputs only", []Result{planned(t, "a", "outputs")}, "[tfpr:changes]"},
		{"error", []Result{errored(t, "a"), planned(t, "b", "nochange")}, "[tfpr:error]"},
		{"denied", []Result{deniedInModule("a"), planned(t, "b", "adds")}, "[tfpr:changes tfpr:policy]"},
		{"no project affected", nil, "[tfpr:no-changes]"},
		{"nothing ran", []Result{{Project: "a", Outcome: Skipped, NotRun: NotRunFork}}, "[]"},
	} {
		if got := labelNames(LabelsFor(planRound(tc.results...))); got != tc.want {
			t.Errorf("%s: labels %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, l := range Labels() {
		if l.Color == "" || len(l.Color) != 6 || l.Description == "" {
			t.Errorf("label %s needs a colour and a description", l.Name)
		}
	}
}

func TestAggregateCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		results []Result
		want    githubapp.Conclusion
	}{
		{"all planned", []Result{planned(t, "a", "adds"), planned(t, "b", "destroy")}, "success"},
		{"one denied", []Result{planned(t, "a", "adds"), deniedInModule("b")}, "failure"},
		{"one errored", []Result{errored(t, "a"), planned(t, "b", "nochange")}, "failure"},
		{"nothing to plan", nil, "neutral"},
		{"fork, lint passed", []Result{{Project: "a", Outcome: Skipped, NotRun: NotRunFork}}, "neutral"},
	} {
		cr := Aggregate(planRound(tc.results...))
		if cr.Name != "tfpr" || cr.Status != "completed" || cr.Conclusion != tc.want || cr.HeadSHA != sha {
			t.Errorf("%s: aggregate check %s %s/%s at %s, want tfpr completed/%s", tc.name, cr.Name, cr.Status, cr.Conclusion, cr.HeadSHA, tc.want)
		}
		for _, r := range tc.results {
			if want := "| `" + r.Project + "` |"; !contains(cr.Summary, want) {
				t.Errorf("%s: the check summary lacks the row of %s:\n%s", tc.name, r.Project, cr.Summary)
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
