package workspace

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// upstream is a real git repository standing in for the forge.
type upstream struct {
	t   testing.TB
	dir string
}

func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{t: t, dir: filepath.Join(t.TempDir(), "upstream")}
	u.git("init", "--quiet", "--initial-branch=main", u.dir)
	return u
}

func (u *upstream) url() string { return "file://" + u.dir }

func (u *upstream) repo() Repo { return Repo{FullName: "acme/infra", CloneURL: u.url()} }

func (u *upstream) git(args ...string) string {
	u.t.Helper()
	cmd := exec.Command("git", args...)
	if len(args) == 0 || args[0] != "init" {
		cmd.Dir = u.dir
	}
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		u.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (an empty content deletes the file) and commits them,
// returning the new commit id.
func (u *upstream) commit(msg string, files map[string]string) string {
	u.t.Helper()
	for name, content := range files {
		p := filepath.Join(u.dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				u.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	u.git("add", "-A")
	u.git("commit", "--quiet", "--allow-empty", "-m", msg)
	return u.git("rev-parse", "HEAD")
}

func newManager(t testing.TB) (*Manager, string) {
	t.Helper()
	dir := t.TempDir()
	m, err := New(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func fetchAll(t *testing.T, m *Manager, repo Repo, refspecs ...string) {
	t.Helper()
	if err := m.Fetch(context.Background(), repo, "", refspecs...); err != nil {
		t.Fatal(err)
	}
}
