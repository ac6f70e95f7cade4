package runner

import (
	"fmt"
	"strings"
)

// overflowListed bounds how many skipped projects a comment names, so the
// note stays far inside GitHub's comment size limit.
const overflowListed = 50

// capProjects keeps the first max projects of a sorted list, so a push
// touching thousands of projects costs at most max lint runs, plans and
// check runs, always the same ones for the same change.
func capProjects(projects []string, max int) (run, skipped []string) {
	if max <= 0 || len(projects) <= max {
		return projects, nil
	}
	return projects[:max], projects[max:]
}

// overflowNote tells the PR which projects were not checked or planned and
// why, naming up to overflowListed of them.
func overflowNote(ran int, skipped []string) string {
	names := make([]string, 0, min(len(skipped), overflowListed))
	for _, p := range skipped[:min(len(skipped), overflowListed)] {
		names = append(names, "`"+p+"`")
	}
	more := ""
	if n := len(skipped) - len(names); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return fmt.Sprintf("This PR affects %d projects, more than the %d tfpr checks and plans per push (TFPR_MAX_PROJECTS_PER_PR): "+
		"it ran the first %d in path order. **Not checked, not planned** (no check run): %s%s. "+
		"Split the change into smaller PRs, or comment `tfpr plan -p DIR` for a project.",
		ran+len(skipped), ran, ran, strings.Join(names, ", "), more)
}
