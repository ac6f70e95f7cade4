package runner

import (
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/store"
)

func TestFinalStatesApplyARebasedPROnce(t *testing.T) {
	l := func(sha string, pr int, projects ...string) landing {
		return landing{SHA: sha, Merge: store.Merge{PR: pr}, Projects: projects}
	}
	show := func(ls []landing) string {
		var parts []string
		for _, x := range ls {
			parts = append(parts, x.SHA+":"+strings.Join(x.Projects, "+"))
		}
		return strings.Join(parts, " ")
	}
	tests := []struct {
		name string
		in   []landing
		want string
	}{
		{"merge commits, one per PR", []landing{l("m1", 1, "a"), l("m2", 2, "a")}, "m1:a m2:a"},
		{"rebase merge of three commits", []landing{l("c1", 5, "a"), l("c2", 5, "b"), l("c3", 5, "a")}, "c3:a+b"},
		{"rebase merge between other merges", []landing{l("m1", 1, "a"), l("c1", 5, "a"), l("c2", 5, "a"), l("m2", 2, "b")}, "m1:a c2:a m2:b"},
		{"direct pushes with no PR stay apart", []landing{l("d1", 0, "a"), l("d2", 0, "a")}, "d1:a d2:a"},
		{"two PRs each rebased", []landing{l("a1", 5, "a"), l("a2", 5, "a"), l("b1", 6, "b"), l("b2", 6, "c")}, "a2:a b2:b+c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := show(finalStates(tt.in)); got != tt.want {
				t.Errorf("finalStates = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestApprovalsBindToThePlanSeen(t *testing.T) {
	as := approvals{
		{Rule: "TFPR102", User: "carol", Plans: map[string]string{"svc/a": "d1", "svc/b": "d2"}},
		{Rule: "TFPR103", User: "dave", Plans: map[string]string{"svc/a": "d9"}},
		{Rule: "TFPR104", User: "erin"}, // recorded before plans were bound: binds to none
	}
	tests := []struct {
		project, digest string
		rules, by       string
	}{
		{"svc/a", "d1", "TFPR102", "carol"},
		{"svc/b", "d2", "TFPR102", "carol"},
		{"svc/a", "d9", "TFPR103", "dave"},
		{"svc/a", "changed", "", ""},
		{"svc/c", "d1", "", ""},
		{"svc/a", "", "", ""}, // a plan whose JSON could not be read
	}
	for _, tt := range tests {
		rules, by := as.forPlan(tt.project, tt.digest)
		if strings.Join(rules, ",") != tt.rules || by != tt.by {
			t.Errorf("forPlan(%s, %s) = %v by %q, want %s by %q", tt.project, tt.digest, rules, by, tt.rules, tt.by)
		}
	}
}

func TestSeenHeadIsTheNewestPlansHead(t *testing.T) {
	plans := []store.Plan{
		{ID: 3, Project: "svc/a", HeadSHA: "h2", Digest: "a2"},
		{ID: 1, Project: "svc/b", HeadSHA: "h1", Digest: "b1"},
	}
	head, digests := seenHead(plans)
	if head != "h2" || len(digests) != 1 || digests["svc/a"] != "a2" {
		t.Errorf("seenHead = %s %v, want h2 with svc/a only", head, digests)
	}
	if head, _ := seenHead(nil); head != "" {
		t.Errorf("seenHead of no plans = %q", head)
	}
}
