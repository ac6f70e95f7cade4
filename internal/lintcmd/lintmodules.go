package lintcmd

import (
	"context"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/tfpr/tfpr/internal/policy"
)

// lintModules lints, as modules, the dirs under sub (a slash path, "." for
// all) that hold Terraform files and no backend, so a platform team's
// modules/ gets findings even where no project in the tree calls them. A
// module is linted with the local modules it calls; one that a linted
// project or module already reaches is not linted again, except sub
// itself, which was named. Every policy runs; those about a project's own
// settings (its backend, its GCP project) find nothing to judge in a
// module.
func lintModules(ctx context.Context, t *policy.Tree, scanned map[string]bool, sub string, projects []linted, sc *scope, workers int) ([]linted, error) {
	covered := map[string]bool{}
	for _, p := range projects {
		covered[p.dir] = true
		for _, m := range p.modules {
			covered[m] = true
		}
	}
	var dirs []string
	for d := range scanned {
		if within(d, sub) && !sc.done(d) && !covered[d] {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	// What each dir declares is read first, for the graph, and its parse
	// dropped: the lint below reads each module again as it goes and
	// releases it after its last use, so a tree of modules is never held
	// whole. Reading modules twice is the price of that.
	var mods []string
	calls := map[string][]string{}
	called := map[string]bool{}
	declared := func(ctx context.Context, d string) (policy.DirInfo, bool, error) {
		info, err := sc.dirInfo(ctx, t, d)
		if err != nil {
			return info, false, ctx.Err()
		}
		sc.forget(ctx, t, d)
		return info, true, nil
	}
	for _, d := range dirs {
		info, ok, err := declared(ctx, d)
		if err != nil {
			return nil, err
		}
		if !ok {
			// Unreadable: linting it reports why.
			mods = append(mods, d)
			continue
		}
		if info.Backend {
			continue
		}
		mods = append(mods, d)
		reach, ok, err := modulesOf(ctx, scanned, d, info, declared)
		if err != nil {
			return nil, err
		}
		if !ok {
			reach = info.Calls
		}
		calls[d] = reach
		for _, c := range reach {
			if c != d {
				called[c] = true
			}
		}
	}
	var picked []string
	pick := func(m string) {
		picked = append(picked, m)
		covered[m] = true
		for _, c := range calls[m] {
			covered[c] = true
		}
	}
	if slices.Contains(mods, sub) {
		pick(sub)
	}
	// Entry points first: modules no other module calls. What is left is
	// only reached through a cycle of modules calling each other.
	for _, m := range mods {
		if !called[m] && !covered[m] {
			pick(m)
		}
	}
	for _, m := range mods {
		if !covered[m] {
			pick(m)
		}
	}
	uses := map[string]*atomic.Int64{}
	for _, m := range picked {
		for _, d := range append([]string{m}, calls[m]...) {
			if uses[d] == nil {
				uses[d] = &atomic.Int64{}
			}
			uses[d].Add(1)
		}
	}
	out := make([]linted, len(picked))
	err := parallel(ctx, len(picked), workers, func(ctx context.Context, i int) (bool, error) {
		m := picked[i]
		fs, err := t.LintProject(ctx, m, calls[m])
		out[i] = linted{dir: m, modules: calls[m], findings: sc.kept.add(fs)}
		for _, d := range append([]string{m}, calls[m]...) {
			if uses[d].Add(-1) == 0 {
				t.Release(d)
			}
		}
		return true, err
	})
	return out, err
}
