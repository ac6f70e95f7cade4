package runner

import (
	"cmp"
	"slices"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// The decisions of the drift-check schedule, kept pure so a table says
// what each tick does.

// driftKey names a project of a repository in the running set.
func driftKey(repo, project string) string { return repo + "\x00" + project }

// pickDriftChecks chooses which projects to check this tick: none while
// PR or apply work is pending (drift never takes a slot such work could
// use), else up to free of the due ones not already running, asked-for
// checks first, then the least recently checked.
func pickDriftChecks(checks []store.DriftCheck, running map[string]bool, now time.Time, free, pendingWork int) []store.DriftCheck {
	if pendingWork > 0 || free <= 0 {
		return nil
	}
	var due []store.DriftCheck
	for _, d := range checks {
		if running[driftKey(d.Repo, d.Project)] {
			continue
		}
		if !d.Requested.IsZero() || !d.Due.After(now) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b store.DriftCheck) int {
		if ar, br := !a.Requested.IsZero(), !b.Requested.IsZero(); ar != br {
			if ar {
				return -1
			}
			return 1
		}
		return cmp.Or(a.Requested.Compare(b.Requested), a.LastChecked.Compare(b.LastChecked), a.Due.Compare(b.Due),
			cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.Project, b.Project))
	})
	if len(due) > free {
		due = due[:free]
	}
	return due
}

// syncSchedule compares the projects on a repository's default branch
// with its schedule. Projects new to it are first due spread evenly over
// one interval from now, so a first sweep does not check everything at
// once and later sweeps keep the spacing; projects no longer there are
// returned as gone.
func syncSchedule(repo string, scheduled []store.DriftCheck, present []string, now time.Time, interval time.Duration) (added, gone []store.DriftCheck) {
	have := map[string]bool{}
	for _, d := range scheduled {
		have[d.Project] = true
	}
	var fresh []string
	for _, p := range present {
		if !have[p] {
			fresh = append(fresh, p)
		}
	}
	slices.Sort(fresh)
	for i, p := range fresh {
		step := interval * time.Duration(i) / time.Duration(len(fresh))
		added = append(added, store.DriftCheck{Repo: repo, Project: p, Due: now.Add(step)})
	}
	for _, d := range scheduled {
		if !slices.Contains(present, d.Project) {
			gone = append(gone, d)
		}
	}
	return added, gone
}

// driftOutcome is what a check's result does to the project's issue.
type driftOutcome int

const (
	driftKeepQuiet  driftOutcome = iota // in sync, no issue: nothing to say
	driftOpenOrEdit                     // drifted or errored: the issue shows it
	driftCloseIssue                     // in sync with an issue open: close it
	driftLeaveIssue                     // the check was cancelled: change nothing
)

// onDriftResult decides what a check's result does to the project's issue.
func onDriftResult(result store.DriftResult, issue int) driftOutcome {
	switch result {
	case store.DriftDrifted, store.DriftErrored:
		return driftOpenOrEdit
	case store.DriftInSync:
		if issue > 0 {
			return driftCloseIssue
		}
		return driftKeepQuiet
	}
	return driftLeaveIssue
}
