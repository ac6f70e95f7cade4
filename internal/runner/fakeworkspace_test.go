package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tfpr/tfpr/internal/workspace"
)

// fakeCommit is one commit: its whole tree and the files it changed
// against its parent (or, for a PR head, against the base branch).
type fakeCommit struct {
	tree    map[string]string
	changed []string
}

// fakeWorkspace is a repository held in memory: commits by id and the
// default branch's first-parent history.
type fakeWorkspace struct {
	mu      sync.Mutex
	dir     string
	commits map[string]fakeCommit
	main    []string       // oldest first
	broken  map[string]int // commit -> the checkout from which on it fails
	tries   map[string]int // checkouts asked for, by commit
	fetches [][]string     // the refspecs of each fetch
}

func newFakeWorkspace(t *testing.T) *fakeWorkspace {
	return &fakeWorkspace{dir: t.TempDir(), commits: map[string]fakeCommit{}, broken: map[string]int{}, tries: map[string]int{}}
}

// commit records sha with the tree of parent plus files (content "" deletes).
func (w *fakeWorkspace) commit(sha, parent string, files map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tree := map[string]string{}
	for k, v := range w.commits[parent].tree {
		tree[k] = v
	}
	var changed []string
	for k, v := range files {
		if v == "" {
			delete(tree, k)
		} else {
			tree[k] = v
		}
		changed = append(changed, k)
	}
	sort.Strings(changed)
	w.commits[sha] = fakeCommit{tree: tree, changed: changed}
}

// land puts sha on the default branch.
func (w *fakeWorkspace) land(sha string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.main = append(w.main, sha)
}

func (w *fakeWorkspace) resolve(rev string) string {
	if rev == "refs/heads/main" && len(w.main) > 0 {
		return w.main[len(w.main)-1]
	}
	return rev
}

// Fetch records what was asked and, like a forge, cannot serve a commit
// id it does not hold (one force-pushed away and collected).
func (w *fakeWorkspace) Fetch(_ context.Context, _ workspace.Repo, _ string, refspecs ...string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fetches = append(w.fetches, refspecs)
	for _, rs := range refspecs {
		src, _, _ := strings.Cut(strings.TrimPrefix(rs, "+"), ":")
		if _, ok := w.commits[src]; !ok && workspace.IsCommitID(src) {
			return fmt.Errorf("fetch %s: upload-pack: not our ref %s", rs, src)
		}
	}
	return nil
}

func (w *fakeWorkspace) Has(_ context.Context, _ workspace.Repo, sha string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.commits[sha]
	return ok
}

func (w *fakeWorkspace) ChangedFiles(_ context.Context, _ workspace.Repo, _, head string) ([]string, error) {
	return w.CommitFiles(context.Background(), workspace.Repo{}, head)
}

func (w *fakeWorkspace) CommitFiles(_ context.Context, _ workspace.Repo, sha string) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.commits[sha]
	if !ok {
		return nil, fmt.Errorf("commit %s not found", sha)
	}
	return c.changed, nil
}

func (w *fakeWorkspace) FirstParents(_ context.Context, _ workspace.Repo, from, to string) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	to = w.resolve(to)
	end := slices.Index(w.main, to)
	if end < 0 {
		return nil, fmt.Errorf("%s is not on main", to)
	}
	if from == "" {
		return []string{to}, nil
	}
	start := slices.Index(w.main, from)
	return slices.Clone(w.main[start+1 : end+1]), nil
}

func (w *fakeWorkspace) OnBranch(_ context.Context, _ workspace.Repo, sha, _ string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.main, sha), nil
}

func (w *fakeWorkspace) TreeID(_ context.Context, _ workspace.Repo, sha string, dirs []string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := sha256.New()
	var names []string
	for name := range w.commits[sha].tree {
		for _, d := range dirs {
			if strings.HasPrefix(name, d+"/") {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, w.commits[sha].tree[n])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (w *fakeWorkspace) ReadFile(_ context.Context, _ workspace.Repo, rev, file string) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.commits[w.resolve(rev)].tree[file]
	if !ok {
		return nil, fmt.Errorf("%s:%s: %w", rev, file, os.ErrNotExist)
	}
	return []byte(c), nil
}

func (w *fakeWorkspace) Checkout(_ context.Context, _ workspace.Repo, sha string) (*workspace.Checkout, error) {
	w.mu.Lock()
	sha = w.resolve(sha)
	c, ok := w.commits[sha]
	w.tries[sha]++
	broken := w.broken[sha] > 0 && w.tries[sha] >= w.broken[sha]
	w.mu.Unlock()
	if broken {
		return nil, fmt.Errorf("checkout %s: disk full", sha)
	}
	if !ok {
		return nil, fmt.Errorf("checkout %s: no such commit", sha)
	}
	dir, err := os.MkdirTemp(w.dir, "co-")
	if err != nil {
		return nil, err
	}
	for name, content := range c.tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	return &workspace.Checkout{Dir: dir, SHA: sha}, nil
}

func (w *fakeWorkspace) RemoveCheckouts() (int, error) { return 0, nil }
