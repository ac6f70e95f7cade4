package lintcmd

import (
	"context"
	"slices"
	"sort"

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
	var mods []string
	calls := map[string][]string{}
	called := map[string]bool{}
	for _, d := range dirs {
		info, err := t.Dir(ctx, d)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// Unreadable: linting it reports why.
			mods = append(mods, d)
			continue
		}
		if info.Backend {
			continue
		}
		mods = append(mods, d)
		reach, ok, err := modulesOf(ctx, scanned, d, info, parsedCalls(t))
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
	out := make([]linted, len(picked))
	err := parallel(ctx, len(picked), workers, func(ctx context.Context, i int) (bool, error) {
		m := picked[i]
		fs, err := t.LintProject(ctx, m, calls[m])
		out[i] = linted{dir: m, modules: calls[m], findings: sc.kept.add(fs)}
		return true, err
	})
	return out, err
}

// parsedCalls reads a module's calls from what the policy parse could
// read: a module is linted even when one of its callees is broken, and
// the broken one reports itself.
func parsedCalls(t *policy.Tree) func(context.Context, string) (policy.DirInfo, bool, error) {
	return func(ctx context.Context, d string) (policy.DirInfo, bool, error) {
		info, err := t.Dir(ctx, d)
		if err != nil {
			return info, false, ctx.Err()
		}
		return info, true, nil
	}
}
