package main

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
type releasePlan struct {
	// uses counts, per dir, the projects not yet linted that use it.
	uses map[string]*atomic.Int64
	// closure lists, per candidate index, the dirs its lint uses: itself
	// and its modules. Empty when the scan found no backend there.
	closure [][]string
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
	p := &releasePlan{uses: map[string]*atomic.Int64{}, closure: make([][]string, len(candidates))}
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
			if p.uses[m] == nil {
				p.uses[m] = &atomic.Int64{}
			}
			p.uses[m].Add(1)
		}
	}
	return p
}

// done records that candidate i is linted and releases the dirs no other
// project still needs.
func (p *releasePlan) done(t *policy.Tree, i int) {
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
