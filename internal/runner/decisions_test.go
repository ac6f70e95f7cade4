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

func TestChoosePlanAppliesTheReviewedPlanOnlyWhenItIsCurrent(t *testing.T) {
	reviewed := store.Plan{HeadSHA: "head1234567", Fingerprint: "tree-a"}
	facts := func(mut func(*planFacts)) planFacts {
		f := planFacts{PR: 7, PRHead: "head1234567", HaveReviewed: true, Reviewed: reviewed, Fingerprint: "tree-a"}
		mut(&f)
		return f
	}
	tests := []struct {
		name string
		f    planFacts
		want planSource
		why  string // a part of the note, "" for none
	}{
		{"reviewed at the final head on the same code", facts(func(*planFacts) {}), planReviewed, ""},
		{"merge head unknown, same code", facts(func(f *planFacts) { f.PRHead = "" }), planReviewed, ""},
		{"fresh plan required", facts(func(f *planFacts) { f.Fresh = true }), planFresh, ""},
		{"no PR for the commit", facts(func(f *planFacts) { f.PR = 0 }), planFresh, "No PR is known"},
		{"PR never planned the project", facts(func(f *planFacts) { f.HaveReviewed = false }), planFresh, "PR #7 has no plan"},
		{"last plan at an older head", facts(func(f *planFacts) { f.PRHead = "head9999999" }), planFresh, "not at the PR's final head head999"},
		{"another merge changed the code", facts(func(f *planFacts) { f.Fingerprint = "tree-b" }), planFresh, "another change merged first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := choosePlan(tt.f)
			if got != tt.want {
				t.Errorf("source = %v, want %v", got, tt.want)
			}
			if (tt.why == "") != (why == "") || !strings.Contains(why, tt.why) {
				t.Errorf("why = %q, want it to say %q", why, tt.why)
			}
		})
	}
}

func TestOnDriftHoldsUnapprovedPlansOnlyWhenTold(t *testing.T) {
	tests := []struct {
		name                     string
		policy                   DriftPolicy
		approvedBy, held, digest string
		want                     driftAction
	}{
		{"apply policy", DriftApply, "", "", "d1", driftProceed},
		{"default policy", "", "", "", "d1", driftProceed},
		{"wait, nobody approved", DriftWait, "", "", "d1", driftHold},
		{"wait, approved this plan", DriftWait, "carol", "d1", "d1", driftApproved},
		{"wait, approved another plan", DriftWait, "carol", "d0", "d1", driftHold},
		{"wait, plan unreadable", DriftWait, "carol", "", "", driftHold},
	}
	for _, tt := range tests {
		if got := onDrift(tt.policy, tt.approvedBy, tt.held, tt.digest); got != tt.want {
			t.Errorf("%s: onDrift = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		body string
		want Command
		err  string // part of the answer, "" for none
	}{
		{"tfpr", Command{Verb: VerbHelp}, ""},
		{"tfpr help", Command{Verb: VerbHelp}, ""},
		{"LGTM\ntfpr plan", Command{Verb: VerbPlan}, ""},
		{"tfpr plan -p microservices/a/dev/ -p microservices/b/dev", Command{Verb: VerbPlan, Projects: []string{"microservices/a/dev", "microservices/b/dev"}}, ""},
		{"tfpr plan -x", Command{Verb: VerbPlan}, "usage: `tfpr plan [-p DIR]...`"},
		{"tfpr apply", Command{Verb: VerbApply}, ""},
		{"tfpr approve no-public-buckets", Command{Verb: VerbApprove, Rule: "no-public-buckets"}, ""},
		{"tfpr approve", Command{Verb: VerbApprove}, "usage on a pull request"},
		{"tfpr approve a b", Command{Verb: VerbApprove}, "usage on a pull request"},
		{"tfpr unblock", Command{Verb: VerbUnblock}, ""},
		{"tfpr unblock -p /microservices/a/dev/", Command{Verb: VerbUnblock, Projects: []string{"microservices/a/dev"}}, ""},
		{"tfpr destroy", Command{}, "`tfpr destroy` is not a tfpr command"},
	}
	for _, tt := range tests {
		got, err := parseCommand(tt.body)
		if got.Verb != tt.want.Verb || got.Rule != tt.want.Rule || strings.Join(got.Projects, ",") != strings.Join(tt.want.Projects, ",") {
			t.Errorf("parseCommand(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("parseCommand(%q) error = %v, want one saying %q", tt.body, err, tt.err)
		}
	}
}

func TestExpandFromNeverSkipsAhead(t *testing.T) {
	known := map[string]bool{"c1": true, "b1": true}
	has := func(s string) bool { return known[s] }
	tests := []struct{ cursor, before, want string }{
		{"c1", "b1", "c1"},
		{"", "b1", "b1"},
		{"gone", "b1", "b1"},
		{"gone", "gone-too", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := expandFrom(tt.cursor, tt.before, has); got != tt.want {
			t.Errorf("expandFrom(%q, %q) = %q, want %q", tt.cursor, tt.before, got, tt.want)
		}
	}
}
