package project

import (
	"slices"
	"sort"
)

// Inputs returns what terraform reads when it runs project, as
// repository-relative paths: the project dir, the local modules it calls,
// and the files and dirs its configuration reads by a static path (for
// templates too). A sandboxed run gets exactly these; "." means the
// configuration may read anything in the repository.
func (g *Graph) Inputs(project string) []string {
	p := cleanRel(project)
	out := append([]string{p}, g.Modules(p)...)
	for _, m := range []map[string][]string{g.readFiles, g.readDirs} {
		for target, readers := range m {
			if slices.Contains(readers, p) && !slices.Contains(out, target) {
				out = append(out, target)
			}
		}
	}
	sort.Strings(out[1:])
	return out
}
