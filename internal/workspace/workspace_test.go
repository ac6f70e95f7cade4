package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mirrorGit(t *testing.T, mirror string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir=" + mirror}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestFetchCreatesMirrorAndUpdatesIt(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	c1 := up.commit("one", map[string]string{"a.txt": "1"})
	m, dir := newManager(t)
	repo := up.repo()

	if m.Has(ctx, repo, c1) {
		t.Fatal("Has reports a commit before anything was fetched")
	}
	fetchAll(t, m, repo, "+refs/heads/main:refs/heads/main")

	mirror := filepath.Join(dir, "mirrors", "acme", "infra.git")
	if got := mirrorGit(t, mirror, "rev-parse", "--is-bare-repository"); got != "true" {
		t.Fatalf("mirror is not bare: %q", got)
	}
	if got := mirrorGit(t, mirror, "config", "--get", "remote.origin.url"); got != up.url() {
		t.Fatalf("remote.origin.url = %q, want %q", got, up.url())
	}
	if got := mirrorGit(t, mirror, "rev-parse", "refs/heads/main"); got != c1 {
		t.Fatalf("mirror main = %s, want %s", got, c1)
	}
	if !m.Has(ctx, repo, c1) {
		t.Fatal("Has(c1) = false after fetch")
	}
	if m.Has(ctx, repo, strings.Repeat("ab", 20)) {
		t.Fatal("Has reports an unknown commit")
	}

	c2 := up.commit("two", map[string]string{"a.txt": "2"})
	fetchAll(t, m, repo, "+refs/heads/main:refs/heads/main")
	if got := mirrorGit(t, mirror, "rev-parse", "refs/heads/main"); got != c2 {
		t.Fatalf("after second fetch main = %s, want %s", got, c2)
	}

	// A commit reachable only from an unfetched branch can be fetched by id.
	up.git("checkout", "--quiet", "-b", "feature")
	f1 := up.commit("feature", map[string]string{"f.txt": "f"})
	up.git("checkout", "--quiet", "main")
	fetchAll(t, m, repo, f1)
	if !m.Has(ctx, repo, f1) {
		t.Fatal("fetch by sha did not bring the commit")
	}

	err := m.Fetch(ctx, repo, "", "+refs/heads/nope:refs/heads/nope")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("fetch of a missing ref: err = %v, want one naming the ref", err)
	}
}

func TestFetchConcurrentSameRepo(t *testing.T) {
	up := newUpstream(t)
	up.commit("one", map[string]string{"a.txt": "1"})
	up.git("branch", "b1")
	up.git("branch", "b2")
	m, _ := newManager(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Go(func() {
			ref := []string{"main", "b1", "b2"}[i%3]
			errs <- m.Fetch(context.Background(), up.repo(), "", "+refs/heads/"+ref+":refs/heads/"+ref)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFetchRejectsBadInput(t *testing.T) {
	up := newUpstream(t)
	up.commit("one", map[string]string{"a.txt": "1"})
	m, dir := newManager(t)
	tests := []struct {
		name       string
		repo       Repo
		refspec    string
		wantErr    string
		mustNotSay string
	}{
		{"path traversal in name", Repo{FullName: "../evil", CloneURL: up.url()}, "main", "invalid repository name", ""},
		{"missing owner", Repo{FullName: "infra", CloneURL: up.url()}, "main", "invalid repository name", ""},
		{"too many parts", Repo{FullName: "a/b/c", CloneURL: up.url()}, "main", "invalid repository name", ""},
		{"credentials in URL", Repo{FullName: "acme/infra", CloneURL: "https://x-access-token:s3cr3t@example.com/acme/infra.git"}, "main", "must not contain credentials", "s3cr3t"},
		{"option as refspec", up.repo(), "--upload-pack=touch /tmp/pwned", "invalid refspec", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Fetch(context.Background(), tt.repo, "", tt.refspec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.mustNotSay != "" && strings.Contains(err.Error(), tt.mustNotSay) {
				t.Fatalf("error leaks %q: %v", tt.mustNotSay, err)
			}
		})
	}
	entries, err := os.ReadDir(filepath.Join(dir, "mirrors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("rejected fetches created mirrors: %v", entries)
	}
}

func TestCheckoutConcurrentAndClose(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	c1 := up.commit("one", map[string]string{"a.txt": "v1", "gone.txt": "x"})
	c2 := up.commit("two", map[string]string{"a.txt": "v2", "gone.txt": "", "sub/b.txt": "b"})
	m, dir := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main")

	want := map[string]map[string]string{
		c1: {"a.txt": "v1", "gone.txt": "x"},
		c2: {"a.txt": "v2", "sub/b.txt": "b"},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	cos := make(chan *Checkout, 8)
	for i := range 8 {
		sha := []string{c1, c2}[i%2]
		wg.Go(func() {
			co, err := m.Checkout(ctx, up.repo(), sha)
			if err != nil {
				errs <- err
				return
			}
			cos <- co
		})
	}
	wg.Wait()
	close(errs)
	close(cos)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for co := range cos {
		if seen[co.Dir] {
			t.Fatalf("two checkouts share %s", co.Dir)
		}
		seen[co.Dir] = true
		if got := readTree(t, co.Dir); !mapsEqual(got, want[co.SHA]) {
			t.Errorf("checkout of %s holds %v, want %v", co.SHA, got, want[co.SHA])
		}
		if err := co.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(co.Dir); !os.IsNotExist(err) {
			t.Fatalf("Close left %s behind (stat err %v)", co.Dir, err)
		}
		if err := co.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	left, err := os.ReadDir(filepath.Join(dir, "checkouts"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("checkouts dir not empty after Close: %v", left)
	}
}

func TestCheckoutUnknownSHA(t *testing.T) {
	up := newUpstream(t)
	up.commit("one", map[string]string{"a.txt": "1"})
	m, dir := newManager(t)
	ctx := context.Background()

	if _, err := m.Checkout(ctx, up.repo(), "main"); err == nil || !strings.Contains(err.Error(), "fetch it first") {
		t.Fatalf("checkout before any fetch: err = %v", err)
	}
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main")
	unknown := strings.Repeat("0123456789", 4)
	_, err := m.Checkout(ctx, up.repo(), unknown)
	if err == nil || !strings.Contains(err.Error(), unknown) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want a not-found error naming %s", err, unknown)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "checkouts"))
	if len(left) != 0 {
		t.Fatalf("failed checkout left %v", left)
	}
}

func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestChangedFilesIgnoresBaseAfterBranchPoint(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	up.commit("base", map[string]string{"a.txt": "a", "b.txt": "b", "keep.txt": "k", "old.txt": "o"})
	up.git("checkout", "--quiet", "-b", "feature")
	up.commit("feature", map[string]string{
		"a.txt": "a2", "b.txt": "", "dir/new.txt": "n", "old.txt": "", "moved/old.txt": "o",
	})
	up.git("checkout", "--quiet", "main")
	up.commit("main moves on", map[string]string{"z.txt": "z", "keep.txt": "k2"})

	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main", "+refs/heads/feature:refs/heads/feature")
	got, err := m.ChangedFiles(ctx, up.repo(), "main", "feature")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.txt", "b.txt", "dir/new.txt", "moved/old.txt", "old.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("ChangedFiles = %v, want %v", got, want)
	}
}

func TestCommitFilesAndFirstParents(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	root := up.commit("root", map[string]string{"a.txt": "a", "d/b.txt": "b"})
	up.git("checkout", "--quiet", "-b", "feature")
	up.commit("f1", map[string]string{"f1.txt": "1"})
	up.commit("f2", map[string]string{"d/f2.txt": "2", "a.txt": "a2"})
	up.git("checkout", "--quiet", "main")
	m1 := up.commit("main change", map[string]string{"m.txt": "m"})
	up.git("merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")
	merge := up.git("rev-parse", "HEAD")
	after := up.commit("after", map[string]string{"m.txt": "m2"})

	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main")

	files := []struct {
		name string
		sha  string
		want []string
	}{
		{"root commit lists every file", root, []string{"a.txt", "d/b.txt"}},
		{"plain commit", m1, []string{"m.txt"}},
		{"merge lists what it brought in vs first parent", merge, []string{"a.txt", "d/f2.txt", "f1.txt"}},
	}
	for _, tt := range files {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.CommitFiles(ctx, up.repo(), tt.sha)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("CommitFiles = %v, want %v", got, tt.want)
			}
		})
	}

	parents := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"skips commits of merged branches", root, after, []string{m1, merge, after}},
		{"empty from", "", merge, []string{merge}},
		{"all-zero from", strings.Repeat("0", 40), merge, []string{merge}},
		{"nothing new", after, after, nil},
	}
	for _, tt := range parents {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.FirstParents(ctx, up.repo(), tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("FirstParents = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOnBranch(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	root := up.commit("root", map[string]string{"a.txt": "a"})
	up.git("checkout", "--quiet", "-b", "merged")
	inMerged := up.commit("m1", map[string]string{"m.txt": "1"})
	up.git("checkout", "--quiet", "-b", "pr", "main")
	prHead := up.commit("p1", map[string]string{"p.txt": "1"})
	up.git("checkout", "--quiet", "main")
	up.git("merge", "--quiet", "--no-ff", "-m", "merge", "merged")
	tip := up.git("rev-parse", "HEAD")

	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main", "+refs/heads/pr:refs/pull/1/head")
	for _, tt := range []struct {
		name, sha string
		want      bool
	}{
		{"tip", tip, true},
		{"first-parent ancestor", root, true},
		{"commit a merge brought in", inMerged, true},
		{"PR head the mirror holds but main does not reach", prHead, false},
		{"commit the mirror never saw", strings.Repeat("a", 40), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.OnBranch(ctx, up.repo(), tt.sha, "main")
			if err != nil || got != tt.want {
				t.Fatalf("OnBranch = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := m.OnBranch(ctx, up.repo(), tip, "no-such-branch"); err == nil {
		t.Error("OnBranch of a branch the mirror lacks: no error")
	}
}

func TestTreeID(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	c1 := up.commit("one", map[string]string{"mod/a.tf": "a", "mod/sub/b.tf": "b", "other/x.txt": "x"})
	c2 := up.commit("outside only", map[string]string{"other/x.txt": "x2", "README": "r"})
	c3 := up.commit("inside", map[string]string{"mod/sub/b.tf": "b2"})
	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main")

	id := func(sha string, dirs ...string) string {
		t.Helper()
		s, err := m.TreeID(ctx, up.repo(), sha, dirs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if id(c1, "mod") != id(c2, "mod") {
		t.Error("same dir content at different commits gives different ids")
	}
	if id(c2, "mod") == id(c3, "mod") {
		t.Error("a changed file in the dir does not change the id")
	}
	if id(c1, "mod", "other") == id(c2, "mod", "other") {
		t.Error("a change in the second dir does not change the id")
	}
	if id(c2, "other", "mod", "./mod/", "mod") != id(c2, "mod", "other") {
		t.Error("id depends on order, duplicates or spelling of dirs")
	}
	if id(c1, "missing") != id(c3, "missing") || id(c1, "missing") == id(c1, "mod") {
		t.Error("a missing dir must contribute a stable marker distinct from content")
	}
	if id(c1, ".") == id(c2, ".") {
		t.Error("root dir id ignores changes")
	}
	if _, err := m.TreeID(ctx, up.repo(), c1, []string{"../etc"}); err == nil {
		t.Error("dir outside the repository accepted")
	}
	if _, err := m.TreeID(ctx, up.repo(), strings.Repeat("f", 40), []string{"mod"}); err == nil {
		t.Error("unknown commit accepted")
	}
}

func TestRedact(t *testing.T) {
	got := redact("fatal: header Authorization: Basic abc123 token ghs_X", []string{"ghs_X", "abc123", ""})
	if strings.Contains(got, "ghs_X") || strings.Contains(got, "abc123") {
		t.Fatalf("secret survived redaction: %q", got)
	}
}

func TestRemoveCheckoutsClearsLeftovers(t *testing.T) {
	up := newUpstream(t)
	sha := up.commit("one", map[string]string{"main.tf": "# x\n"})
	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main")
	co, err := m.Checkout(context.Background(), up.repo(), sha)
	if err != nil {
		t.Fatal(err)
	}
	n, err := m.RemoveCheckouts()
	if err != nil || n != 1 {
		t.Fatalf("removed %d checkouts (%v), want 1", n, err)
	}
	if _, err := os.Stat(co.Dir); !os.IsNotExist(err) {
		t.Fatalf("checkout %s still exists", co.Dir)
	}
}

// Checkouts kept outside the data dir go in a subdirectory of the data
// dir's own, and a prepared one (a symlink, a world-writable dir) is
// refused: tfpr deletes what that directory holds at start.
func TestCheckoutDir(t *testing.T) {
	base, data := t.TempDir(), t.TempDir()
	other := filepath.Join(base, "keep.txt")
	if err := os.WriteFile(other, []byte("not tfpr's"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	head := up.commit("one", map[string]string{"main.tf": "# v1\n"})
	m, err := New(data, nil, WithCheckoutDir(base))
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, m, up.repo(), head)
	co, err := m.Checkout(context.Background(), up.repo(), head)
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(base, co.Dir); err != nil || strings.HasPrefix(rel, "..") || strings.Count(rel, "/") != 1 {
		t.Errorf("checkout at %s, want one level below a subdirectory of %s", co.Dir, base)
	}
	if _, err := m.RemoveCheckouts(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("removing checkouts touched %s: %v", other, err)
	}
	// A second data dir gets its own subdirectory.
	m2, err := New(t.TempDir(), nil, WithCheckoutDir(base))
	if err != nil {
		t.Fatal(err)
	}
	if m2.checkouts == m.checkouts {
		t.Errorf("two data dirs share the checkouts dir %s", m.checkouts)
	}

	// Prepared by someone else: a symlink, or open to every user.
	for name, prepare := range map[string]func(dir string) error{
		"symlink":        func(dir string) error { return os.Symlink(t.TempDir(), dir) },
		"world-writable": func(dir string) error { return os.Mkdir(dir, 0o777) },
	} {
		t.Run(name, func(t *testing.T) {
			base, data := t.TempDir(), t.TempDir()
			probe, err := New(data, nil, WithCheckoutDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(base, filepath.Base(probe.checkouts))
			if err := prepare(dir); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o777) // past the umask
			if _, err := New(data, nil, WithCheckoutDir(base)); err == nil || !strings.Contains(err.Error(), dir) {
				t.Errorf("New with a prepared checkouts dir: err = %v, want a refusal naming %s", err, dir)
			}
		})
	}
}
