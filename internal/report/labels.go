package report

// Label is a PR label tfpr keeps in sync with the latest plan round.
type Label struct {
	Name, Color, Description string
}

// The labels tfpr owns; any other label on a PR is left alone.
var (
	LabelDestroy   = Label{"tfpr:destroy", "b60205", "tfpr: the plan destroys or replaces resources"}
	LabelChanges   = Label{"tfpr:changes", "fbca04", "tfpr: the plan changes infrastructure"}
	LabelNoChanges = Label{"tfpr:no-changes", "0e8a16", "tfpr: the plan changes nothing"}
	LabelError     = Label{"tfpr:error", "d93f0b", "tfpr: a plan failed"}
	LabelPolicy    = Label{"tfpr:policy", "5319e7", "tfpr: a policy denied a project"}
)

// Labels lists every label tfpr manages, so a round can remove those that
// no longer apply.
func Labels() []Label {
	return []Label{LabelDestroy, LabelChanges, LabelNoChanges, LabelError, LabelPolicy}
}

// LabelsFor is the set of tfpr labels a PR carries after round r.
func LabelsFor(r Round) []Label {
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
