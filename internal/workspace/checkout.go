package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/tfsource"
)

// Checkout is a directory holding the tree of one commit, or the part of
// it a run needs. It is not a git repository: runs only need the files.
type Checkout struct {
	Dir string // absolute path
	SHA string // full commit id

	// A checkout of TerraformFiles keeps its index beside Dir to add
	// files from; nil when every file is checked out.
	more *sparse
}

// Files says which of a commit's files a checkout starts with.
type Files int

const (
	// AllFiles checks out the whole tree.
	AllFiles Files = iota
	// TerraformFiles checks out only the files terraform or OpenTofu
	// loads, which is what a project scan reads; Complete adds the files
	// of the projects a run works on. Most files of a monorepo (docs,
	// data, scripts, other teams' templates) are never written.
	TerraformFiles
)

// sparse is what a checkout of TerraformFiles needs to add files.
type sparse struct {
	m      *Manager
	mirror string
	index  string

	mu    sync.Mutex
	paths []string        // every file of the commit, sorted
	out   map[string]bool // the files checked out
}

// Checkout materialises the tree at sha, or its Terraform files, into a
// fresh directory under dir/checkouts. It uses read-tree with a private
// index file rather than `git worktree add`, so concurrent checkouts of one
// mirror share no writable state in the mirror and need no lock.
func (m *Manager) Checkout(ctx context.Context, repo Repo, sha string, files Files) (*Checkout, error) {
	defer observe.Time(ctx, metrics.PhaseCheckout)()
	co, err := m.checkout(ctx, repo, sha, files)
	if err != nil {
		return nil, fmt.Errorf("checkout %s at %s: %w", repo.FullName, sha, err)
	}
	return co, nil
}

func (m *Manager) checkout(ctx context.Context, repo Repo, sha string, files Files) (*Checkout, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return nil, err
	}
	if err := checkRev(sha); err != nil {
		return nil, err
	}
	full := sha
	if !fullSHA.MatchString(sha) {
		// A ref: name the commit it points at now, which later moves of
		// the ref do not change.
		if full, err = m.resolveCommit(ctx, mirror, sha); err != nil {
			return nil, err
		}
	}
	owner, name, _ := strings.Cut(strings.ToLower(repo.FullName), "/")
	dir, err := os.MkdirTemp(m.checkouts, fmt.Sprintf("%s-%s-%s-", owner, name, full[:12]))
	if err != nil {
		return nil, fmt.Errorf("create checkout dir: %w", err)
	}
	// The index lives beside the tree, not in it, so the checkout holds
	// exactly the commit's files.
	index := dir + ".index"
	fail := func(err error) (*Checkout, error) {
		_ = os.RemoveAll(dir)
		_ = os.Remove(index)
		if ctx.Err() == nil && !m.hasCommit(ctx, mirror, full) {
			return nil, fmt.Errorf("commit %s not found in mirror (fetch it first)", sha)
		}
		return nil, err
	}
	args := []string{"--git-dir=" + mirror, "--work-tree=" + dir, "read-tree", "--reset", "-u", full + "^{commit}"}
	if files == TerraformFiles {
		args = slices.Delete(args, 4, 5) // no -u: only the index
	}
	if _, err := m.run(ctx, runOpts{env: []string{"GIT_INDEX_FILE=" + index}}, args...); err != nil {
		return fail(err)
	}
	co := &Checkout{Dir: dir, SHA: full}
	if files == AllFiles {
		_ = os.Remove(index)
	} else {
		out, err := m.run(ctx, runOpts{env: []string{"GIT_INDEX_FILE=" + index}}, "--git-dir="+mirror, "ls-files", "-z", "--stage")
		if err != nil {
			return fail(err)
		}
		co.more = &sparse{m: m, mirror: mirror, index: index, out: map[string]bool{}}
		var tf []string
		whole := false
		for entry := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
			// <mode> <object> <stage>\t<path>
			meta, p, ok := strings.Cut(entry, "\t")
			if !ok || p == "" {
				continue
			}
			co.more.paths = append(co.more.paths, p)
			// A symlink is read through, so what a file needs cannot be
			// told from paths, and a submodule is not files: a tree
			// holding either is checked out whole.
			whole = whole || strings.HasPrefix(meta, "120000 ") || strings.HasPrefix(meta, "160000 ")
			if tfsource.Loaded(path.Base(p)) {
				tf = append(tf, p)
			}
		}
		slices.Sort(co.more.paths)
		if whole {
			tf = co.more.paths
		}
		if err := co.more.add(ctx, dir, tf); err != nil {
			return fail(err)
		}
		if whole {
			co.more = nil
			_ = os.Remove(index)
		}
	}
	m.log.DebugContext(ctx, "checked out", "repo", repo.FullName, "sha", full, "dir", dir, "files", files)
	return co, nil
}

// Complete adds to a checkout of TerraformFiles the files at paths (repo-
// relative slash paths of files or dirs, "." for the whole tree) that it
// lacks; paths not in the commit are skipped. It does nothing to a
// checkout of AllFiles, or of a tree holding a symlink or a submodule,
// which is checked out whole. Safe for concurrent use.
func (c *Checkout) Complete(ctx context.Context, paths []string) error {
	if c.more == nil {
		return nil
	}
	c.more.mu.Lock()
	defer c.more.mu.Unlock()
	if err := c.more.add(ctx, c.Dir, c.more.under(paths)); err != nil {
		return fmt.Errorf("complete checkout %s: %w", c.Dir, err)
	}
	return nil
}

// under returns the commit's files at or under paths.
func (s *sparse) under(paths []string) []string {
	var out []string
	for _, p := range paths {
		p = strings.Trim(path.Clean("/"+p), "/")
		if p == "" {
			return s.paths
		}
		if i, ok := slices.BinarySearch(s.paths, p); ok {
			out = append(out, s.paths[i])
		}
		// p's files sort together, after names like "p-x" and "p.txt".
		i, _ := slices.BinarySearch(s.paths, p+"/")
		for ; i < len(s.paths) && strings.HasPrefix(s.paths[i], p+"/"); i++ {
			out = append(out, s.paths[i])
		}
	}
	return out
}

// add checks out the files of paths not checked out yet.
func (s *sparse) add(ctx context.Context, dir string, paths []string) error {
	var in bytes.Buffer
	var added []string
	for _, p := range paths {
		if !s.out[p] {
			s.out[p] = true
			added = append(added, p)
			in.WriteString(p)
			in.WriteByte(0)
		}
	}
	if len(added) == 0 {
		return nil
	}
	_, err := s.m.run(ctx, runOpts{env: []string{"GIT_INDEX_FILE=" + s.index}, stdin: in.Bytes()},
		"--git-dir="+s.mirror, "--work-tree="+dir, "checkout-index", "-z", "--stdin")
	if err != nil {
		for _, p := range added {
			delete(s.out, p)
		}
	}
	return err
}

// Close removes the checkout directory. It is safe to call more than once.
func (c *Checkout) Close(ctx context.Context) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove checkout %s: %w", c.Dir, err)
	}
	var err error
	if c.more != nil {
		if e := os.Remove(c.more.index); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = fmt.Errorf("remove checkout index %s: %w", c.more.index, e)
		}
	}
	if e := removeAll(c.Dir); e != nil {
		err = fmt.Errorf("remove checkout %s: %w", c.Dir, e)
	}
	return err
}

// removeAll also clears directories a run made read-only (terraform and
// some providers write such files under .terraform), which os.RemoveAll
// alone cannot delete.
func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// RemoveCheckouts deletes every checkout. Call it only when no run is
// active (at start-up): checkouts left by a crashed process would
// otherwise fill the disk.
func (m *Manager) RemoveCheckouts() (int, error) {
	entries, err := os.ReadDir(m.checkouts)
	if err != nil {
		return 0, fmt.Errorf("list checkouts: %w", err)
	}
	n := 0
	for _, e := range entries {
		if err := removeAll(filepath.Join(m.checkouts, e.Name())); err != nil {
			return 0, fmt.Errorf("remove stale checkout %s: %w", e.Name(), err)
		}
		if e.IsDir() {
			n++ // not the index beside it
		}
	}
	return n, nil
}
