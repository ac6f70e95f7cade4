package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
)

// Checkout is a directory holding the tree of one commit. It is not a git
// repository: runs only need the files.
type Checkout struct {
	Dir string // absolute path
	SHA string // full commit id
}

// Checkout materialises the tree at sha into a fresh directory under
// dir/checkouts. It uses read-tree with a private index file rather than
// `git worktree add`, so concurrent checkouts of one mirror share no
// writable state in the mirror and need no lock.
func (m *Manager) Checkout(ctx context.Context, repo Repo, sha string) (*Checkout, error) {
	defer observe.Time(ctx, metrics.PhaseCheckout)()
	co, err := m.checkout(ctx, repo, sha)
	if err != nil {
		return nil, fmt.Errorf("checkout %s at %s: %w", repo.FullName, sha, err)
	}
	return co, nil
}

func (m *Manager) checkout(ctx context.Context, repo Repo, sha string) (*Checkout, error) {
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
	defer os.Remove(index)
	_, err = m.run(ctx, runOpts{env: []string{"GIT_INDEX_FILE=" + index}},
		"--git-dir="+mirror, "--work-tree="+dir, "read-tree", "--reset", "-u", full+"^{commit}")
	if err != nil {
		_ = os.RemoveAll(dir)
		if ctx.Err() == nil && !m.hasCommit(ctx, mirror, full) {
			return nil, fmt.Errorf("commit %s not found in mirror (fetch it first)", sha)
		}
		return nil, err
	}
	m.log.DebugContext(ctx, "checked out", "repo", repo.FullName, "sha", full, "dir", dir)
	return &Checkout{Dir: dir, SHA: full}, nil
}

// Close removes the checkout directory. It is safe to call more than once.
func (c *Checkout) Close(ctx context.Context) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove checkout %s: %w", c.Dir, err)
	}
	if err := removeAll(c.Dir); err != nil {
		return fmt.Errorf("remove checkout %s: %w", c.Dir, err)
	}
	return nil
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
	for _, e := range entries {
		if err := removeAll(filepath.Join(m.checkouts, e.Name())); err != nil {
			return 0, fmt.Errorf("remove stale checkout %s: %w", e.Name(), err)
		}
	}
	return len(entries), nil
}
