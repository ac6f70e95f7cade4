package report

import "github.com/tfpr/tfpr/internal/githubapp"

// Label is a PR label tfpr keeps in sync with the latest plan round.
type Label = githubapp.Label

// The labels tfpr owns; any other label on a PR is left alone.
var (
	LabelDestroy   = Label{Name: "tfpr:destroy", Color: "b60205", Description: "tfpr: the plan destroys or replaces resources"}
	LabelChanges   = Label{Name: "tfpr:changes", Color: "fbca04", Description: "tfpr: the plan changes infrastructure"}
	LabelNoChanges = Label{Name: "tfpr:no-changes", Color: "0e8a16", Description: "tfpr: the plan changes nothing"}
	LabelError     = Label{Name: "tfpr:error", Color: "d93f0b", Description: "tfpr: a plan failed"}
	LabelPolicy    = Label{Name: "tfpr:policy", Color: "5319e7", Description: "tfpr: a policy denied a project"}
)

// Labels lists every label tfpr manages, so a round can remove those that
// no longer apply.
func Labels() []Label {
	return []Label{LabelDestroy, LabelChanges, LabelNoChanges, LabelError, LabelPolicy}
}

// LabelsFor is the set of tfpr labels a PR carries after round r.
func LabelsFor(r Round) []Label {
	if len(r.Results) == 0 {
		return []Label{LabelNoChanges} // the PR no longer touches any project
	}
	var has [VerdictApplyFailed + 1]bool
	for _, res := range r.Results {
		has[verdictOf(res)] = true
	}
	var out []Label
	if has[VerdictDestroy] {
		out = append(out, LabelDestroy)
	}
	if has[VerdictDestroy] || has[VerdictChanges] || has[VerdictOutputs] {
		out = append(out, LabelChanges)
	}
	if has[VerdictNoChanges] && !has[VerdictDestroy] && !has[VerdictChanges] && !has[VerdictOutputs] && !has[VerdictError] && !has[VerdictDenied] {
		out = append(out, LabelNoChanges)
	}
	if has[VerdictError] || has[VerdictApplyFailed] {
		out = append(out, LabelError)
	}
	if has[VerdictDenied] {
		out = append(out, LabelPolicy)
	}
	return out
}
