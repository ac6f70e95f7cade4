package runner

import (
	"os"
	"strings"
)

// fakeTerraform.world holds, for the projects it names, the value their
// infrastructure has: a plan of that value has no changes and an apply
// sets it, so drift can be made by hand. Projects it does not name always
// plan changes. Callers hold f.mu.

func (f *fakeTerraform) inSync(project, value string) bool {
	have, tracked := f.world[project]
	return tracked && have == value
}

func (f *fakeTerraform) applyToWorld(project, planFile string) {
	if _, tracked := f.world[project]; !tracked {
		return
	}
	raw, _ := os.ReadFile(planFile)
	f.world[project] = strings.TrimPrefix(string(raw), "plan of ")
}
