package lintcmd

import (
	"context"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/tfsource"
)

// releasePlan says when lint may drop a directory's parse: once every
// project that uses it (as its own dir or through its module closure) is
// linted. It comes from a scan of each file's backend and module sources
// (tfsource.ScanDecls), read before anything is parsed, so a module shared
// by many projects is parsed once and freed after its last caller instead
// of being held to the end. The plan only frees memory: what is linted and
// how still comes from the parse, and a dir the scan got wrong is at worst
// read again.
//
// The plan also orders the lint (see lintOrder) and tells the Tree when a
// dir's parts are all built, so its expressions can go (Tree.Settle)
// while its blocks stay for the callers still to come.
type releasePlan struct {
	// uses counts, per dir, the projects not yet linted that use it.
	uses map[string]*atomic.Int64
	// builds counts, per dir, the parts of it not yet built: one as a
	// project, one as a module.
	builds map[string]*atomic.Int64
	// called is set once a dir has been used as a module.
	called map[string]*atomic.Bool
	// closure lists, per candidate index, the dirs its lint uses: itself
	// and its modules. Empty when the scan found no backend there.
	closure [][]string
	// order is the order to lint the candidates in, by index.
	order []int
}

// planRelease scans the candidates' files. It returns nil when any file
// is outside what the scan follows (JSON syntax, unusual layout,
// unreadable): lint then keeps modules to the end, as before.
func planRelease(ctx context.Context, root *os.Root, candidates []string, scanned map[string]bool, workers int) *releasePlan {
	infos := make([]policy.DirInfo, len(candidates))
	err := parallel(ctx, len(candidates), workers, func(ctx context.Context, i int) (bool, error) {
		info, ok := scanDir(root, candidates[i])
		infos[i] = info
		return ok, nil
	})
	if err != nil {
		return nil
	}
	byDir := make(map[string]policy.DirInfo, len(candidates))
	for i, d := range candidates {
		byDir[d] = infos[i]
	}
	dir := func(_ context.Context, d string) (policy.DirInfo, bool, error) {
		info, ok := byDir[d]
		return info, ok, nil
	}
	p := &releasePlan{uses: map[string]*atomic.Int64{}, builds: map[string]*atomic.Int64{}, called: map[string]*atomic.Bool{},
		closure: make([][]string, len(candidates))}
	count := func(counts map[string]*atomic.Int64, d string) {
		if counts[d] == nil {
			counts[d] = &atomic.Int64{}
		}
		counts[d].Add(1)
	}
	for i, d := range candidates {
		if !infos[i].Backend {
			continue
		}
		modules, ok, _ := modulesOf(ctx, scanned, d, infos[i], dir)
		if !ok {
			return nil
		}
		p.closure[i] = append([]string{d}, modules...)
		for _, m := range p.closure[i] {
			count(p.uses, m)
		}
		count(p.builds, d)
		for _, m := range modules {
			if p.called[m] == nil {
				p.called[m] = &atomic.Bool{}
				count(p.builds, m)
			}
		}
	}
	p.order = lintOrder(candidates, p.closure)
	return p
}

// lintOrder orders the candidates so that each module that is also a
// project is linted just before its first caller, callees first, and the
// rest keep their sorted order. Between a module's own lint and its first
// caller both of its parts get built, so its expressions are dropped
// soon after it is read, rather than held until the module's turn in
// sorted order (after all its callers under "blueprints/" or "fast/").
// Callers stay in sorted order, which keeps the modules held at once to
// those of neighbouring projects.
func lintOrder(candidates []string, closure [][]string) []int {
	index := make(map[string]int, len(candidates))
	for i, d := range candidates {
		index[d] = i
	}
	order := make([]int, 0, len(candidates))
	placed := make([]bool, len(candidates))
	var place func(i int)
	place = func(i int) {
		if placed[i] {
			return
		}
		placed[i] = true
		if len(closure[i]) > 0 {
			for _, m := range closure[i][1:] {
				if j, ok := index[m]; ok && len(closure[j]) > 0 {
					place(j)
				}
			}
		}
		order = append(order, i)
	}
	for i := range candidates {
		place(i)
	}
	return order
}

// done records that candidate i is linted: its part as a project goes,
// the dirs whose parts are now all built settle, and the dirs no other
// project still needs are released.
func (p *releasePlan) done(t *policy.Tree, i int) {
	if len(p.closure[i]) == 0 {
		return
	}
	built := func(d string) {
		if p.builds[d].Add(-1) == 0 {
			t.Settle(d)
		}
	}
	t.Linted(p.closure[i][0])
	built(p.closure[i][0])
	for _, m := range p.closure[i][1:] {
		if p.called[m].CompareAndSwap(false, true) {
			built(m)
		}
	}
	for _, d := range p.closure[i] {
		if p.uses[d].Add(-1) == 0 {
			t.Release(d)
		}
	}
}

// scanDir reads the backend and local module calls of dir from every file
// terraform or OpenTofu load there, override and OpenTofu files included,
// so the plan never misses a caller the module graph would count. Calls
// resolve as Tree.Dir resolves them.
func scanDir(root *os.Root, dir string) (policy.DirInfo, bool) {
	var info policy.DirInfo
	d, err := root.Open(dir)
	if err != nil {
		return info, false
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil || len(entries) > tfsource.MaxFilesPerDir {
		// Past the lint's own bound the dir is refused whole anyway.
		return info, false
	}
	for _, e := range entries {
		kind := tfsource.KindOf(e.Name())
		if e.IsDir() || kind == tfsource.Ignored {
			continue
		}
		src, ok := tfsource.ReadRegularAt(d, e.Name(), tfsource.MaxFileSize)
		if !ok {
			if src, err = tfsource.ReadFile(root, path.Join(dir, e.Name()), tfsource.MaxFileSize); err != nil {
				return info, false
			}
		}
		scan := tfsource.ScanDecls
		if strings.HasSuffix(e.Name(), ".json") {
			scan = tfsource.ScanJSONDecls
		}
		decls, ok := scan(src)
		if !ok {
			return info, false
		}
		info.Backend = info.Backend || decls.Backend
		for _, s := range decls.Sources {
			if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
				continue
			}
			target := path.Clean(path.Join(dir, s))
			if target != ".." && !strings.HasPrefix(target, "../") {
				info.Calls = append(info.Calls, target)
			}
		}
	}
	return info, true
}
