package lintcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/tfsource"
	"github.com/tfpr/tfpr/policies"
)

const lintUsage = `usage: tfpr lint [flags] [DIR...]

Lints what each DIR (default ".") holds, before any terraform command runs:
every Terraform project (a directory declaring a backend) with the local
modules it calls, and every module (a directory of .tf files without a
backend) that no linted project calls, with every policy that can apply to
a module. Flags may come before or after the DIRs. Exit status: 0 clean,
1 a deny finding, 2 usage or config error or no Terraform files found.

`

// Run implements `tfpr lint`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("tfpr lint", flag.ContinueOnError)
	fset.SetOutput(stderr)
	format := fset.String("format", "text", "output `format`: text, json, sarif or github")
	policyDir := fset.String("policy-dir", os.Getenv("TFPR_POLICY_DIR"), "`DIR` of .rego policies instead of the built-in ones (env TFPR_POLICY_DIR)")
	paramsFile := fset.String("params", os.Getenv("TFPR_POLICY_PARAMS_FILE"), "JSON `FILE` overriding the policies' parameters, as the server's (env TFPR_POLICY_PARAMS_FILE)")
	inputOf := fset.String("input", "", "print the policy input document of the project or module in `DIR` as JSON, and lint nothing")
	jobs := fset.Int("jobs", runtime.GOMAXPROCS(0), "lint up to `N` projects at once; findings are the same for any N")
	timeout := policy.DefaultLintTimeout
	if v := os.Getenv("TFPR_LINT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "tfpr lint: TFPR_LINT_TIMEOUT: not a positive duration: %q\n", v)
			return 2
		}
		timeout = d
	}
	fset.DurationVar(&timeout, "timeout", timeout, "time budget of the whole lint; past it lint fails with a deny finding (env TFPR_LINT_TIMEOUT)")
	fset.Usage = func() {
		fmt.Fprint(stderr, lintUsage)
		fset.PrintDefaults()
	}
	dirs, err := parseInterleaved(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *inputOf != "" {
		return printInput(ctx, *inputOf, stdout, stderr)
	}
	write, ok := writerFor(*format)
	if !ok {
		fmt.Fprintf(stderr, "tfpr lint: unknown --format %q (want text, json, sarif or github)\n", *format)
		return 2
	}
	pfs, err := PolicyFS(*policyDir)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: %v\n", err)
		return 2
	}
	if *jobs < 1 {
		fmt.Fprintf(stderr, "tfpr lint: --jobs must be at least 1, got %d\n", *jobs)
		return 2
	}
	if timeout <= 0 {
		fmt.Fprintf(stderr, "tfpr lint: --timeout must be positive, got %s\n", timeout)
		return 2
	}
	var params map[string]any
	if *paramsFile != "" {
		if params, err = policy.ReadParams(*paramsFile); err != nil {
			fmt.Fprintf(stderr, "tfpr lint: %v\n", err)
			return 2
		}
	}
	engine, err := policy.New(ctx, pfs, policy.Options{NoCache: true, LintTimeout: timeout, Params: params})
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: policies%s: %v\n", InDir(*policyDir), err)
		return 2
	}
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	findings, counts, err := lintDirs(lctx, engine, dirs, *jobs)
	if err != nil && ctx.Err() == nil && lctx.Err() != nil {
		// Fail closed: whatever was not linted in time is not a pass.
		findings, err = []policy.Finding{{Rule: policy.RuleLintTimeout, Title: "lint did not finish", Severity: policy.SeverityDeny,
			File: strings.Join(dirs, ", "), Message: fmt.Sprintf("lint did not finish within %s; nothing under %s counts as checked", timeout, strings.Join(dirs, ", "))}}, nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: %v\n", err)
		return 2
	}
	if counts.projects+counts.modules == 0 && !policy.Blocking(findings) {
		// Linting nothing is not a pass: a wrong path must not look clean.
		fmt.Fprintf(stderr, "tfpr lint: no Terraform files (*.tf, *.tf.json) under %s\n", strings.Join(dirs, ", "))
		return 2
	}
	if err := write(stdout, findings, engine.Rules()); err != nil {
		fmt.Fprintf(stderr, "tfpr lint: write report: %v\n", err)
		return 2
	}
	if *format == "text" {
		fmt.Fprintln(stderr, summary(findings, counts))
	}
	if policy.Blocking(findings) {
		return 1
	}
	return 0
}

// InDir names dir for an error message about policies: " in DIR", or
// nothing for the built-in ones.
func InDir(dir string) string {
	if dir == "" {
		return ""
	}
	return " in " + dir
}

// PolicyFS returns the policies to load: dir when set, else the built-in
// ones.
func PolicyFS(dir string) (fs.FS, error) {
	if dir == "" {
		return policies.FS(), nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy dir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("policy dir %s is not a directory", dir)
	}
	return os.DirFS(dir), nil
}

// lintDirs lints the projects under each dir. Paths in findings are made
// relative to the working directory when the dir is inside it, else they
// are prefixed with the dir as given.
func lintDirs(ctx context.Context, engine *policy.Engine, dirs []string, workers int) ([]policy.Finding, lintCounts, error) {
	var counts lintCounts
	cwd, err := os.Getwd()
	if err != nil {
		return nil, counts, fmt.Errorf("working directory: %w", err)
	}
	trees := map[string]*policy.Tree{}
	scans := map[string]map[string]bool{}
	defer func() {
		for _, t := range trees {
			t.Close()
		}
	}()
	seen := map[string]bool{}
	kept := map[string]*findingSet{}
	var all []policy.Finding
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, counts, fmt.Errorf("%s: %w", d, err)
		}
		if st, err := os.Stat(abs); err != nil {
			return nil, counts, err
		} else if !st.IsDir() {
			return nil, counts, fmt.Errorf("%s is not a directory", d)
		}
		root, sub := lintRoot(cwd, abs)
		t := trees[root]
		if t == nil {
			if t, err = engine.OpenTree(ctx, root); err != nil {
				return nil, counts, err
			}
			trees[root] = t
		}
		if scans[root] == nil {
			if scans[root], err = terraformDirs(ctx, root); err != nil {
				return nil, counts, fmt.Errorf("list Terraform dirs under %s: %w", d, err)
			}
		}
		if kept[root] == nil {
			kept[root] = newFindingSet()
		}
		// seen only changes between dirs, so the workers may read it.
		sc := &scope{done: func(p string) bool { return seen[root+"\x00"+p] }, kept: kept[root]}
		linted, err := lintUnder(ctx, t, root, scans[root], sub, sc, workers)
		if err != nil {
			return nil, counts, err
		}
		counts.projects += len(linted)
		modules, err := lintModules(ctx, t, scans[root], sub, linted, sc, workers)
		if err != nil {
			return nil, counts, err
		}
		counts.modules += len(modules)
		for _, l := range append(linted, modules...) {
			seen[root+"\x00"+l.dir] = true
			for _, f := range l.findings {
				f.File = displayPath(cwd, root, f.File, filepath.IsAbs(d))
				all = append(all, f)
			}
		}
	}
	// A module shared by several projects yields the same finding for each.
	return dedupe(all), counts, nil
}

// lintCounts is what one run linted.
type lintCounts struct{ projects, modules int }

type linted struct {
	dir      string   // repo-relative, "." for the root
	modules  []string // local module dirs it calls, directly or not
	findings []policy.Finding
}

// lintUnder lints the projects under sub (a slash path relative to root,
// "." for all) that done does not report, in order of their dirs, on all
// CPUs. Projects and module calls come from the parse the policies use, so
// nothing is parsed twice, and each project is linted as soon as it is
// found so its files can be dropped. The graph is project.Scan's: if any
// file involved cannot be read or parsed, project.Scan decides instead.
func lintUnder(ctx context.Context, t *policy.Tree, root string, scanned map[string]bool, sub string, sc *scope, workers int) ([]linted, error) {
	out, ok, err := streamProjects(ctx, t, root, scanned, sub, sc, workers)
	if err != nil || ok {
		return out, err
	}
	return scanAndLint(ctx, t, root, sub, sc, workers)
}

// scanAndLint is lintUnder by project.Scan's graph, which parses every file
// again but knows how to place broken ones.
func scanAndLint(ctx context.Context, t *policy.Tree, root, sub string, sc *scope, workers int) ([]linted, error) {
	g, err := project.Scan(ctx, root)
	if err != nil {
		return nil, err
	}
	var projects []string
	for _, p := range g.Projects() {
		if within(p, sub) && !sc.done(p) {
			projects = append(projects, p)
		}
	}
	out := make([]linted, len(projects))
	err = parallel(ctx, len(projects), workers, func(ctx context.Context, i int) (bool, error) {
		modules := g.Modules(projects[i])
		fs, err := t.LintProject(ctx, projects[i], modules)
		out[i] = linted{dir: projects[i], modules: modules, findings: sc.kept.add(fs)}
		return true, err
	})
	return out, err
}

// streamProjects is lintUnder's fast path. ok is false when some dir
// could not be read, so project.Scan must decide.
func streamProjects(ctx context.Context, t *policy.Tree, root string, scanned map[string]bool, sub string, sc *scope, workers int) ([]linted, bool, error) {
	var candidates []string
	for d := range scanned {
		if within(d, sub) {
			candidates = append(candidates, d)
		}
	}
	sort.Strings(candidates)
	g, err := newGraphReader(t, root)
	if err != nil {
		return nil, false, nil
	}
	defer g.close()
	plan := planRelease(ctx, g.root, candidates, scanned, workers)
	results := make([]*linted, len(candidates))
	err = parallel(ctx, len(candidates), workers, func(ctx context.Context, k int) (bool, error) {
		i := k
		if plan != nil {
			i = plan.order[k]
			defer plan.done(t, i)
		}
		d := candidates[i]
		info, ok, err := g.dir(ctx, d)
		if !ok || err != nil {
			return ok, err
		}
		if !info.Backend && plan != nil && plan.uses[d] == nil {
			// No project uses it: only the module lint will, after every
			// project. Keep what it declares, not its parse, so a tree of
			// modules is not held whole until then.
			sc.forget(ctx, t, d)
		}
		if !info.Backend || sc.done(d) {
			return true, nil
		}
		modules, ok, err := modulesOf(ctx, scanned, d, info, g.dir)
		if !ok || err != nil {
			return ok, err
		}
		fs, err := t.LintProject(ctx, d, modules)
		if err != nil {
			return true, err
		}
		results[i] = &linted{dir: d, modules: modules, findings: sc.kept.add(fs)}
		if plan == nil {
			t.Forget(d)
		}
		return true, nil
	})
	if errors.Is(err, errFallback{}) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out []linted
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, true, nil
}

// graphReader reads the module graph from the parse the policies use.
// Files that parse misses (refused, unreadable, broken) are read the way
// project.Scan reads them, so the graph is Scan's without parsing every
// file twice.
type graphReader struct {
	t    *policy.Tree
	root *os.Root
}

func newGraphReader(t *policy.Tree, root string) (*graphReader, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	return &graphReader{t: t, root: r}, nil
}

func (g *graphReader) close() { g.root.Close() }

// dir is Tree.Dir completed with project.FileDecls for the files the
// policy parse could not read whole. ok is false when the dir or one of
// its files cannot be read at all.
func (g *graphReader) dir(ctx context.Context, d string) (policy.DirInfo, bool, error) {
	info, err := g.t.Dir(ctx, d)
	if err != nil {
		return info, false, ctx.Err()
	}
	for _, rel := range info.Unparsed {
		decls, err := project.FileDecls(g.root, rel)
		if err != nil {
			return info, false, ctx.Err()
		}
		info.Backend = info.Backend || decls.Backend
		for _, c := range decls.Calls {
			if !slices.Contains(info.Calls, c) {
				info.Calls = append(info.Calls, c)
			}
		}
	}
	slices.Sort(info.Calls)
	return info, true, nil
}

// modulesOf lists the local modules project calls, directly or through
// other modules, as Graph.Modules does: breadth-first through the calls of
// scanned dirs, each read by dir. ok is false when dir says a module could
// not be read.
func modulesOf(ctx context.Context, scanned map[string]bool, project string, info policy.DirInfo, dir func(context.Context, string) (policy.DirInfo, bool, error)) ([]string, bool, error) {
	var out []string
	visited := map[string]bool{project: true}
	for queue := []string{project}; len(queue) > 0; queue = queue[1:] {
		cur := queue[0]
		if !scanned[cur] {
			continue
		}
		if cur != project {
			var ok bool
			var err error
			if info, ok, err = dir(ctx, cur); !ok || err != nil {
				return nil, ok, err
			}
		}
		for _, c := range info.Calls {
			if !visited[c] {
				visited[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	sort.Strings(out)
	return out, true, nil
}

// errFallback is parallel's error for a job that cannot go on.
type errFallback struct{}

func (errFallback) Error() string { return "fall back to project.Scan" }

// parallel runs job(0..n-1) on up to workers goroutines, taking the jobs
// in order. A job returning ok false or an
// error stops the rest; the error is the first by index that is not the
// cancellation of the others, or errFallback.
func parallel(ctx context.Context, n, workers int, job func(ctx context.Context, i int) (ok bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				ok, err := job(ctx, i)
				if err == nil && !ok {
					err = errFallback{}
				}
				if err != nil {
					errs[i] = err
					cancel()
				}
			}
		})
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return ctx.Err()
}

// terraformDirs lists the dirs below root holding files terraform or
// OpenTofu load,
// walked as project.Scan walks (dot dirs and node_modules skipped).
func terraformDirs(ctx context.Context, root string) (map[string]bool, error) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		if !tfsource.Loaded(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		dirs[filepath.ToSlash(rel)] = true
		return nil
	})
	return dirs, err
}

func within(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}
