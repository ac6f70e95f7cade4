// Package report renders what tfpr tells a PR: one living comment per PR
// for plans (and per merge commit for applies), split into numbered
// follow-ups only when the summary table itself cannot fit; one check run
// per project plus the aggregate `tfpr` check; and the PR's labels. It only
// renders; githubapp posts.
package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Outcome of one project in a round.
type Outcome string

const (
	Planned     Outcome = "planned"
	Denied      Outcome = "denied"  // policy denied: terraform did not run
	Errored     Outcome = "error"   // tfpr or terraform failed
	Skipped     Outcome = "skipped" // deliberately not run (see NotRun)
	Applied     Outcome = "applied"
	ApplyFailed Outcome = "apply failed"
	Waiting     Outcome = "waiting" // apply held for a person
)

// NotRun says why a Skipped project's terraform did not run.
type NotRun string

const (
	NotRunFork    NotRun = "fork"    // PRs from forks get lint only
	NotRunCap     NotRun = "cap"     // over TFPR_MAX_PROJECTS_PER_PR
	NotRunBlocked NotRun = "blocked" // an earlier apply of the project failed
)

// Kind is what a round reports: a PR's plans or a merge's applies.
type Kind string

// Round kinds.
const (
	KindPlan  Kind = "plan"
	KindApply Kind = "apply"
)

// Result is one project's part of a round. Every string in it is plain
// text, never markdown: rendering escapes it (see package md).
type Result struct {
	Project  string
	Outcome  Outcome
	NotRun   NotRun // why, when Outcome is Skipped
	Findings []policy.Finding
	Plan     *terraform.Plan // nil when terraform did not plan
	Output   string          // apply output, or the error text
	// Notes are lines of prose, e.g. "re-planned on the merge commit
	// because ..."; text between single backticks is shown as code.
	Notes []string
	// DetailsURL is the run on tfpr's runs page (TFPR_PUBLIC_URL): the
	// check run's Details link and a link in the comment. Empty: none.
	DetailsURL string
}

// Round is everything rendered for one commit.
type Round struct {
	Kind Kind
	SHA  string
	PR   int
	// RepoURL is the repository's web address, for links to findings at
	// SHA; empty renders findings as plain file:line.
	RepoURL string
	// At is when the round ran; zero leaves the time out.
	At      time.Time
	Results []Result
	Notes   []string // round-wide notes, as Result.Notes, e.g. why terraform was not run for a fork
}

// Marker starts tfpr comments of a kind so tooling can find them.
func Marker(kind string) string { return "<!-- tfpr:" + kind + " -->" }

// CommentMarker is the hidden first line of part (1-based) of a round's
// living comment: plans have one per PR, applies one per merge commit.
func CommentMarker(kind Kind, sha string, part int) string {
	m := "tfpr:" + string(kind)
	if kind == KindApply {
		m += " sha=" + sha
	}
	if part > 1 {
		m += fmt.Sprintf(" part=%d", part)
	}
	return "<!-- " + m + " -->"
}

// Verdict is a project's (or a round's) result as the table shows it.
type Verdict int

const (
	VerdictNoChanges Verdict = iota
	VerdictNotRun
	VerdictApplied
	VerdictOutputs // only root outputs change
	VerdictChanges
	VerdictWaiting
	VerdictDestroy
	VerdictDenied
	VerdictError
	VerdictApplyFailed
)

// verdictOf ranks a result; higher verdicts need more attention.
func verdictOf(r Result) Verdict {
	switch r.Outcome {
	case Denied:
		return VerdictDenied
	case Errored:
		return VerdictError
	case Skipped:
		return VerdictNotRun
	case ApplyFailed:
		return VerdictApplyFailed
	case Waiting:
		return VerdictWaiting
	case Applied:
		return VerdictApplied
	}
	if policy.Blocking(r.Findings) {
		return VerdictDenied // a plan-stage policy denied what the plan does
	}
	s, changed := summaryOf(r)
	switch {
	case !changed:
		return VerdictNoChanges
	case s.Destructive():
		return VerdictDestroy
	case s.Create+s.Update+s.Import+s.Move+s.Forget == 0 && s.Outputs > 0:
		return VerdictOutputs
	}
	return VerdictChanges
}

// roundVerdict is the verdict needing most attention; a round where
// nothing ran is "not run", one with no project "no changes".
func roundVerdict(rs []Result) Verdict {
	v, ran := VerdictNoChanges, false
	for _, r := range rs {
		rv := verdictOf(r)
		if rv != VerdictNotRun {
			ran = true
		}
		if rv > v {
			v = rv
		}
	}
	if !ran && len(rs) > 0 {
		return VerdictNotRun
	}
	return v
}

// summaryOf is the plan's summary and whether it changes anything. Plans
// made before summaries existed (or rebuilt from the store) are summarized
// from their JSON, or else from terraform's own three counts.
func summaryOf(r Result) (terraform.Summary, bool) {
	p := r.Plan
	if p == nil {
		return terraform.Summary{}, false
	}
	s := p.Summary
	if s.Empty() && len(p.JSON) > 0 {
		if js, err := terraform.SummaryOf(p.JSON); err == nil {
			s = js
		}
	}
	if s.Empty() && p.HasChanges {
		s = terraform.Summary{Create: p.Add, Update: p.Change, Delete: p.Destroy}
	}
	return s, p.HasChanges || !s.Empty()
}

func sorted(rs []Result) []Result {
	out := append([]Result(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

func sortFindings(fs []policy.Finding) []policy.Finding {
	out := append([]policy.Finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// outputOf is the terraform text shown for a result: the plan when it
// changes something, else apply output or the error.
func outputOf(r Result) string {
	if r.Outcome == Planned && r.Plan != nil {
		if _, changed := summaryOf(r); changed {
			return r.Plan.Text
		}
	}
	return r.Output
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// whereFull names where a project's whole text is when a comment cuts it.
func whereFull(kind Kind, project string) string {
	return fmt.Sprintf("the check run %q and the run log", CheckName(kind, project))
}

// lines joins non-empty strings with newlines.
func lines(ss ...string) string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}
