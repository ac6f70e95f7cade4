package project

import (
	"path"
	"slices"
	"sort"
	"strings"
)

// cleanRel normalises a repo-relative path as given by git or a user.
func cleanRel(p string) string {
	return path.Clean("./" + strings.TrimPrefix(p, "/"))
}

// Dirs returns every scanned directory, sorted by path. The result is a
// copy.
func (g *Graph) Dirs() []Dir {
	out := make([]Dir, 0, len(g.dirs))
	for _, d := range g.dirs {
		c := *d
		c.Calls = slices.Clone(d.Calls)
		c.Files = slices.Clone(d.Files)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Projects returns the repo-relative dirs of all projects, sorted.
func (g *Graph) Projects() []string {
	var out []string
	for p, d := range g.dirs {
		if d.Project {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// IsProject reports whether dir is a project.
func (g *Graph) IsProject(dir string) bool {
	d, ok := g.dirs[cleanRel(dir)]
	return ok && d.Project
}

// Diagnostics returns the problems found while scanning, sorted by file and
// line.
func (g *Graph) Diagnostics() []Diagnostic {
	return slices.Clone(g.diags)
}

// Modules returns the local module dirs project calls, directly or through
// other modules, sorted. A called dir without .tf files is still listed (it
// is reported in Diagnostics) so fingerprints over these dirs notice when it
// appears.
func (g *Graph) Modules(project string) []string {
	calls := func(d string) []string {
		if dir, ok := g.dirs[d]; ok {
			return dir.Calls
		}
		return nil
	}
	return reach(cleanRel(project), calls, func(string) bool { return true })
}

// Callers returns the projects that call module, directly or through other
// modules, sorted. Cycles are tolerated.
func (g *Graph) Callers(module string) []string {
	return reach(cleanRel(module), func(d string) []string { return g.callers[d] }, g.IsProject)
}

// reach walks next from start breadth first, tolerating cycles, and returns
// the sorted dirs reached (start excluded) that keep accepts.
func reach(start string, next func(string) []string, keep func(string) bool) []string {
	seen := map[string]bool{start: true}
	queue := []string{start}
	var out []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range next(cur) {
			if seen[c] {
				continue
			}
			seen[c] = true
			queue = append(queue, c)
			if keep(c) {
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// owner returns the dir a changed file belongs to: the nearest ancestor that
// holds Terraform files or is called as a module (so deleting a module's
// last file still reaches its callers). "" when there is none.
func (g *Graph) owner(file string) string {
	for d := path.Dir(cleanRel(file)); ; d = path.Dir(d) {
		if _, ok := g.dirs[d]; ok {
			return d
		}
		if len(g.callers[d]) > 0 {
			return d
		}
		if d == "." {
			return ""
		}
	}
}

// Affected returns the projects, sorted and deduplicated, that the changed
// repo-relative files affect: the project owning a file, every project
// that reaches the owning module through local calls, and every project
// whose configuration reads the file (file(), templatefile(), fileset()
// and the like, by static path). Files in plain subdirectories (templates,
// JSON) count for the nearest project or module above them. A deleted
// project is not returned; see Removed.
func (g *Graph) Affected(changed []string) []string {
	set := map[string]bool{}
	owners := map[string]bool{}
	for _, f := range changed {
		for _, p := range g.readers(cleanRel(f)) {
			set[p] = true
		}
		o := g.owner(f)
		if o == "" || owners[o] {
			continue
		}
		owners[o] = true
		if g.IsProject(o) {
			set[o] = true
		}
		for _, p := range g.Callers(o) {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Removed returns the projects of before that are no longer projects in g
// (their dir was deleted or lost its backend) and that contain at least one
// of the changed files, sorted. Their state needs attention rather than a
// plan.
func (g *Graph) Removed(changed []string, before *Graph) []string {
	if before == nil {
		return nil
	}
	var out []string
	for _, p := range before.Projects() {
		if g.IsProject(p) {
			continue
		}
		for _, f := range changed {
			if within(cleanRel(f), p) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func within(file, dir string) bool {
	return dir == "." || strings.HasPrefix(file, dir+"/")
}
