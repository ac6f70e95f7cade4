package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Tree is a checkout opened for linting. Every directory is read and
// parsed at most once, however many projects call it, so a Tree should not
// outlive the files it reads (one CI run, one commit). It is safe for
// concurrent use.
type Tree struct {
	e    *Engine
	root *os.Root
	kit  *termKit

	mu    sync.Mutex
	dirs  map[string]*lazy[*dirFiles]
	parts map[partKey]*lazy[*modulePart]
	// called marks the dirs some project called as a module: Forget keeps
	// their parse, so a dir that is both a project and a module is read
	// once however its callers and its own lint are ordered.
	called map[string]bool
	// parsed counts the files parsed, to show that each is parsed once.
	parsed atomic.Int64
}

type partKey struct{ dir, module string }

// OpenTree opens the checkout at root. Symlinks cannot pull files from
// outside it.
func (e *Engine) OpenTree(ctx context.Context, root string) (*Tree, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open checkout %s: %w", root, err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open checkout %s: %w", root, err)
	}
	return &Tree{e: e, root: r, kit: newTermKit(e.funcs), dirs: map[string]*lazy[*dirFiles]{}, parts: map[partKey]*lazy[*modulePart]{}, called: map[string]bool{}}, nil
}

// Close releases the checkout.
func (t *Tree) Close() error { return t.root.Close() }

// Forget drops what the Tree holds of dir as a project, to free the memory
// once the project is linted. The parse stays while dir is also a module
// some project called; otherwise a later use of dir reads it again.
// Modules it calls stay.
func (t *Tree) Forget(dir string) {
	dir = cleanRel(dir)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.called[dir] {
		delete(t.dirs, dir)
	}
	delete(t.parts, partKey{dir, ""})
}

// Release drops all the Tree holds of dir, as a project and as a module,
// for a caller that knows nothing linted later uses it: unlike Forget it
// frees the modules too, so memory follows the projects in progress
// rather than the whole checkout. A later use reads dir again.
func (t *Tree) Release(dir string) {
	dir = cleanRel(dir)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.dirs, dir)
	delete(t.parts, partKey{dir, ""})
	delete(t.parts, partKey{dir, dir})
}

// Linted tells the Tree that the lint of dir as a project is done: its
// part as a project, which nothing else uses, is dropped. Its parse and
// its part as a module stay for its callers.
func (t *Tree) Linted(dir string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.parts, partKey{cleanRel(dir), ""})
}

// DirsHeld is how many dirs the Tree holds read now: with Forget and
// Release, what a lint holds follows the projects in progress.
func (t *Tree) DirsHeld() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.dirs)
}

// FilesParsed is how many files the Tree has parsed so far.
func (t *Tree) FilesParsed() int64 { return t.parsed.Load() }

// read returns dir as read and parsed, reading it on first use.
func (t *Tree) read(ctx context.Context, dir string) (*dirFiles, error) {
	t.mu.Lock()
	l := t.dirs[dir]
	if l == nil {
		l = &lazy[*dirFiles]{}
		t.dirs[dir] = l
	}
	t.mu.Unlock()
	return l.get(ctx, func() (*dirFiles, error) {
		df, err := readDir(ctx, t.root, dir, t.e.cache, t.kit)
		if err == nil {
			t.parsed.Add(int64(len(df.files)))
		}
		return df, err
	})
}

// part returns dir read as module (module "" for a project's own dir).
func (t *Tree) part(ctx context.Context, df *dirFiles, module string) (*modulePart, error) {
	k := partKey{df.dir, module}
	t.mu.Lock()
	l := t.parts[k]
	if l == nil {
		l = &lazy[*modulePart]{}
		t.parts[k] = l
	}
	t.mu.Unlock()
	return l.get(ctx, func() (*modulePart, error) {
		df.mu.RLock()
		defer df.mu.RUnlock()
		if !df.settled {
			return t.e.parts.get(df, module, t.kit), nil
		}
		// Settle dropped the expressions evaluation reads: read the dir
		// again rather than judge values it could no longer compute.
		fresh, err := readDir(ctx, t.root, df.dir, t.e.cache, t.kit)
		if err != nil {
			return nil, err
		}
		t.parsed.Add(int64(len(fresh.files)))
		return t.e.parts.get(fresh, module, t.kit), nil
	})
}

// Settle tells the Tree that every module part of dir it will be asked for
// is built: it drops the HCL expressions of dir's files, which only
// building a part reads and which are most of what a parse holds. The
// blocks, lines and terms policies and findings use stay. A part asked
// for later anyway reads dir again. With an Engine cache, whose parsed
// files outlive the Tree, Settle does nothing.
func (t *Tree) Settle(dir string) {
	if t.e.cache != nil {
		return
	}
	t.mu.Lock()
	l := t.dirs[cleanRel(dir)]
	t.mu.Unlock()
	if l == nil {
		return
	}
	df, ok := l.peek()
	if !ok || df.err != nil {
		return
	}
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.settled {
		return
	}
	df.settled = true
	for _, f := range df.files {
		dropExprs(f.blocks)
	}
}

func dropExprs(blocks []*rawBlock) {
	for _, b := range blocks {
		for _, a := range b.attrs {
			a.expr = nil
		}
		dropExprs(b.blocks)
	}
}

// DirInfo is what a directory declares about the module graph, read from
// the same parse the policies see.
type DirInfo struct {
	// Backend is set when a terraform block declares a backend: the
	// directory is a project.
	Backend bool
	// Calls are the repo-relative dirs ("." for the root) of the local
	// modules it calls: literal sources starting with ./ or ../ that stay
	// inside the checkout. Sorted.
	Calls []string
	// Clean is set when every file was read and parsed without error, so
	// the above is exactly what terraform sees.
	Clean bool
	// Unparsed are the repo-relative paths of the files terraform loads
	// that were refused, unreadable or did not parse: Backend and Calls
	// leave them out, so the module graph must read them its own way.
	Unparsed []string
}

// Dir reads dir (once per Tree) and reports its backend and module calls.
// An unreadable dir is an error.
func (t *Tree) Dir(ctx context.Context, dir string) (DirInfo, error) {
	dir = cleanRel(dir)
	df, err := t.read(ctx, dir)
	if err != nil {
		return DirInfo{}, err
	}
	if df.err != nil {
		return DirInfo{}, df.err
	}
	info := DirInfo{Clean: len(df.findings) == 0, Unparsed: slices.Clip(df.unparsed)}
	for _, f := range df.files {
		if len(f.findings) > 0 {
			continue
		}
		for _, b := range f.blocks {
			switch {
			case b.typ == "terraform" && len(b.labels) == 0:
				for _, nb := range b.blocks {
					info.Backend = info.Backend || (nb.typ == "backend" && len(nb.labels) == 1)
				}
			case b.typ == "module" && len(b.labels) == 1:
				source := b.staticString("source")
				if !strings.HasPrefix(source, "./") && !strings.HasPrefix(source, "../") {
					continue
				}
				target := path.Clean(path.Join(dirOrDot(dir), source))
				if target == ".." || strings.HasPrefix(target, "../") {
					continue
				}
				if !slices.Contains(info.Calls, target) {
					info.Calls = append(info.Calls, target)
				}
			}
		}
	}
	slices.Sort(info.Calls)
	return info, nil
}

// LintProject lints the project in dir with the local modules it calls
// (repo-relative dirs), like Engine.LintProject, reusing what this Tree
// already read and evaluated.
//
// The lint of one project has a time budget (Options.LintTimeout): a
// project that takes longer, whatever its files hold, gets a deny finding
// rather than a pass.
func (t *Tree) LintProject(ctx context.Context, dir string, modules []string) ([]Finding, error) {
	dir = cleanRel(dir)
	budget := t.e.lintTimeout
	if budget <= 0 {
		budget = DefaultLintTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	c, err := t.config(lctx, dir, modules)
	var fs []Finding
	if err == nil {
		fs, err = t.e.lint(lctx, c)
	}
	if err != nil && ctx.Err() == nil && lctx.Err() != nil {
		return []Finding{{Rule: RuleLintTimeout, Title: "lint did not finish", Severity: SeverityDeny, File: dirOrDot(dir),
			Message: fmt.Sprintf("linting %s did not finish within %s; the project is blocked until its files can be checked in time", dirOrDot(dir), budget)}}, nil
	}
	return fs, err
}

// config reads dir and modules. Unreadable modules become findings: terraform
// would fail on them too, and tfpr never lints around a module.
func (t *Tree) config(ctx context.Context, dir string, modules []string) (*config, error) {
	df, err := t.read(ctx, dir)
	if err != nil {
		return nil, err
	}
	if df.err != nil {
		return nil, df.err
	}
	findings := append(slices.Clip(df.findings), df.unsafe...)
	cc := &callChecker{t: t, templates: map[string][]Finding{}}
	findings = append(findings, cc.dir(dir, df)...)
	own, err := t.part(ctx, df, "")
	if err != nil {
		return nil, err
	}
	parts := []*modulePart{own}
	seen := map[string]bool{dir: true}
	read := []*dirFiles{df}
	var missing []*dirFiles
	for _, m := range modules {
		m = cleanRel(m)
		if seen[m] {
			continue
		}
		seen[m] = true
		t.mu.Lock()
		t.called[m] = true
		t.mu.Unlock()
		mf, err := t.read(ctx, m)
		if err != nil {
			return nil, err
		}
		if mf.err != nil {
			missing = append(missing, mf)
			continue
		}
		read = append(read, mf)
		p, err := t.part(ctx, mf, m)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		findings = append(findings, mf.findings...)
		findings = append(findings, cc.dir(dir, mf)...)
	}
	for _, mf := range missing {
		// At the call's source, where the fix goes, once every caller is read.
		file, line := moduleCallSite(read, mf.dir)
		if file == "" {
			file = dirOrDot(dir)
		}
		msg := fmt.Sprintf("cannot read local module %s: %v", dirOrDot(mf.dir), unwrap(mf.err))
		if errors.Is(mf.err, fs.ErrNotExist) {
			msg = fmt.Sprintf("local module %s does not exist; terraform init would fail", dirOrDot(mf.dir))
		}
		findings = append(findings, Finding{
			Rule: RuleParse, Title: "module not linted", Severity: SeverityDeny, File: file, Line: line, EndLine: line, Message: msg,
		})
	}
	return newConfig(dir, parts, findings), nil
}

// moduleCallSite returns the file and line of the source of the first module
// block among dirs that calls the local module in target.
func moduleCallSite(dirs []*dirFiles, target string) (string, int) {
	for _, df := range dirs {
		for _, f := range df.files {
			for _, b := range f.blocks {
				if b.typ != "module" || len(b.labels) != 1 {
					continue
				}
				source := b.staticString("source")
				if !strings.HasPrefix(source, "./") && !strings.HasPrefix(source, "../") {
					continue
				}
				if cleanRel(path.Join(dirOrDot(df.dir), source)) == target {
					return f.path, b.attr("source").start
				}
			}
		}
	}
	return "", 0
}
