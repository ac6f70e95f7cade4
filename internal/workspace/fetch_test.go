package workspace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// countGit puts a git on PATH that logs each start before it runs the real
// one, so a test sees every git process a Manager made afterwards starts.
func countGit(t *testing.T) (started func() []string) {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "starts.log")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %q\nexec %q \"$@\"\n", log, real)
	if err := os.WriteFile(filepath.Join(dir, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() []string {
		b, err := os.ReadFile(log)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
}

// objectCount is how many objects the mirror holds, loose and packed.
func objectCount(t *testing.T, mirror string) int {
	t.Helper()
	out, err := exec.Command("git", "--git-dir="+mirror, "count-objects", "-v").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		if k == "count" || k == "in-pack" {
			i, _ := strconv.Atoi(v)
			n += i
		}
	}
	return n
}

// planRun does what a PR's plan asks of the workspace before terraform:
// fetch the head and base by id, list the changed files, check out the head.
func planRun(t *testing.T, m *Manager, repo Repo, token string, pr int, base, head string) []string {
	t.Helper()
	ctx := context.Background()
	if err := m.Fetch(ctx, repo, token, fmt.Sprintf("+%s:refs/pull/%d/head", head, pr),
		fmt.Sprintf("+%s:refs/pull/%d/base", base, pr)); err != nil {
		t.Fatal(err)
	}
	changed, err := m.ChangedFiles(ctx, repo, base, head)
	if err != nil {
		t.Fatal(err)
	}
	co, err := m.Checkout(ctx, repo, head)
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return changed
}

// A second run on a repository asks the server for the new head only, in
// one request that offers what the mirror holds, and starts no git
// transport; a re-plan of a head the mirror holds asks the server nothing.
func TestSecondRunFetchesOnlyTheNewCommit(t *testing.T) {
	const token = "ghs_TestToken0123456789abcdef"
	up := newUpstream(t)
	files := map[string]string{"modules/net/main.tf": "# net\n"}
	for i := range 20 {
		files[fmt.Sprintf("microservices/s%d/dev/main.tf", i)] = "# v1\n"
	}
	base := up.commit("base", files)
	srv := newGitHTTPServer(t, filepath.Dir(up.dir), token)
	repo := Repo{FullName: "acme/infra", CloneURL: srv.URL + "/" + filepath.Base(up.dir)}
	started := countGit(t)
	m, dir := newManager(t)
	mirror := filepath.Join(dir, "mirrors", "acme", "infra.git")

	up.git("checkout", "--quiet", "-b", "pr1")
	head1 := up.commit("pr1", map[string]string{"microservices/s1/dev/main.tf": "# v2\n"})
	planRun(t, m, repo, token, 1, base, head1)

	up.git("checkout", "--quiet", "-b", "pr2", base)
	head2 := up.commit("pr2", map[string]string{"microservices/s2/dev/main.tf": "# v2\n"})
	objects := objectCount(t, mirror)
	procs, reqs := len(started()), len(srv.served())
	changed := planRun(t, m, repo, token, 2, base, head2)
	if want := []string{"microservices/s2/dev/main.tf"}; strings.Join(changed, ",") != strings.Join(want, ",") {
		t.Fatalf("changed files of PR 2 = %v, want %v", changed, want)
	}
	gits, asked := started()[procs:], srv.served()[reqs:]
	t.Logf("second run stored %d new objects", objectCount(t, mirror)-objects)
	// One fetch request: no capability advertisement, no ref listing.
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "POST ") {
		t.Errorf("second run sent %d requests, want one fetch:\n%s", len(asked), strings.Join(asked, "\n"))
	}
	// The commit and the 4 trees down to dev/ (the blob is PR 1's), and
	// a delta base or two index-pack copies in: the base is offered as
	// common ground, so the 20 other projects' 60 objects stay home.
	if n := objectCount(t, mirror) - objects; n > 8 {
		t.Errorf("second run stored %d new objects, want at most 8: the new commit's", n)
	}
	// What is held (cat-file), the mirror's tips (for-each-ref), index-pack,
	// the connectivity check (rev-list), update-ref, diff-tree, read-tree;
	// git's fetch would start 4 processes of its own besides.
	var verbs []string
	for _, g := range gits {
		for _, f := range strings.Fields(g) {
			if !strings.HasPrefix(f, "--") {
				verbs = append(verbs, f)
				break
			}
		}
	}
	if got, want := strings.Join(verbs, " "), "cat-file for-each-ref index-pack rev-list update-ref diff-tree read-tree"; got != want {
		t.Errorf("second run started git %s, want %s:\n%s", got, want, strings.Join(gits, "\n"))
	}

	procs, reqs = len(started()), len(srv.served())
	planRun(t, m, repo, token, 2, base, head2)
	gits, asked = started()[procs:], srv.served()[reqs:]
	if len(asked) != 0 {
		t.Errorf("a re-plan of a held head asked the server:\n%s", strings.Join(asked, "\n"))
	}
	if len(gits) != 3 {
		t.Errorf("a re-plan started %d git processes, want 3:\n%s", len(gits), strings.Join(gits, "\n"))
	}
}

// A git killed while writing leaves lock files; the next process's fetch
// clears them instead of failing on them for ever.
func TestFetchAfterCrashClearsStaleLocks(t *testing.T) {
	up := newUpstream(t)
	c1 := up.commit("one", map[string]string{"a.txt": "1"})
	m, dir := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main", fmt.Sprintf("+%s:refs/pull/1/head", c1))

	mirror := filepath.Join(dir, "mirrors", "acme", "infra.git")
	for _, f := range []string{"refs/heads/main.lock", "refs/pull/1/head.lock", "packed-refs.lock", "config.lock", "shallow.lock"} {
		if err := os.WriteFile(filepath.Join(mirror, f), []byte("half-written"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c2 := up.commit("two", map[string]string{"a.txt": "2"})
	// A new process: the Manager of the crashed one is gone.
	m2, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Fetch(context.Background(), up.repo(), "", "+refs/heads/main:refs/heads/main",
		fmt.Sprintf("+%s:refs/pull/1/head", c2)); err != nil {
		t.Fatalf("fetch after a crash: %v", err)
	}
	if got := mirrorGit(t, mirror, "rev-parse", "refs/heads/main", "refs/pull/1/head"); got != c2+"\n"+c2 {
		t.Fatalf("after the fetch main and the PR ref are %q, want %s", got, c2)
	}
}

// A commit id the server does not have fails the fetch with git's reason,
// and leaves the mirror usable.
func TestFetchUnknownCommitID(t *testing.T) {
	up := newUpstream(t)
	c1 := up.commit("one", map[string]string{"a.txt": "1"})
	m, _ := newManager(t)
	gone := strings.Repeat("ab", 20)
	err := m.Fetch(context.Background(), up.repo(), "", "+"+gone+":refs/pull/1/head")
	if err == nil || !strings.Contains(err.Error(), "acme/infra") {
		t.Fatalf("fetch of an unknown id: err = %v, want an error naming the repository", err)
	}
	fetchAll(t, m, up.repo(), "+"+c1+":refs/pull/1/head")
	if !m.Has(context.Background(), up.repo(), c1) {
		t.Fatal("the mirror did not take a fetch after a failed one")
	}
}

// Questions about commits the mirror holds (is it on the branch, what did
// it change, which commits landed, what content does it give these dirs)
// take one git process each.
func TestHeldCommitQuestionsTakeOneProcessEach(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	onMain := up.commit("one", map[string]string{"mod/a.tf": "# a\n", "svc/main.tf": "# s\n"})
	up.git("checkout", "--quiet", "-b", "pr")
	offMain := up.commit("two", map[string]string{"svc/main.tf": "# s2\n"})
	started := countGit(t)
	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main", "+"+offMain+":refs/pull/1/head")

	for _, tt := range []struct {
		sha  string
		want bool
	}{{onMain, true}, {offMain, false}} {
		n := len(started())
		got, err := m.OnBranch(ctx, up.repo(), tt.sha, "main")
		if err != nil || got != tt.want {
			t.Fatalf("OnBranch(%s) = %v, %v; want %v", tt.sha, got, err, tt.want)
		}
		if gits := started()[n:]; len(gits) != 1 {
			t.Errorf("OnBranch started %d git processes, want 1:\n%s", len(gits), strings.Join(gits, "\n"))
		}
	}
	n := len(started())
	if files, err := m.CommitFiles(ctx, up.repo(), offMain); err != nil || strings.Join(files, ",") != "svc/main.tf" {
		t.Fatalf("CommitFiles = %v, %v; want svc/main.tf", files, err)
	}
	if shas, err := m.FirstParents(ctx, up.repo(), onMain, offMain); err != nil || strings.Join(shas, ",") != offMain {
		t.Fatalf("FirstParents = %v, %v; want %s", shas, err, offMain)
	}
	if gits := started()[n:]; len(gits) != 2 {
		t.Errorf("CommitFiles and FirstParents started %d git processes, want 2:\n%s", len(gits), strings.Join(gits, "\n"))
	}
	n = len(started())
	if _, err := m.TreeID(ctx, up.repo(), offMain, []string{"svc", "mod"}); err != nil {
		t.Fatal(err)
	}
	if gits := started()[n:]; len(gits) != 1 {
		t.Errorf("TreeID started %d git processes, want 1:\n%s", len(gits), strings.Join(gits, "\n"))
	}
	if _, err := m.TreeID(ctx, up.repo(), strings.Repeat("c", 40), []string{"svc"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("TreeID of an unknown commit: err = %v, want not found", err)
	}
}

// A held commit is fetched under every ref asked for: a base another pull
// request fetched first, and a head whose ref update failed (a lock file a
// killed git left) are named by their refs on the next fetch, without
// asking the server.
func TestHeldCommitGetsItsRef(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	base := up.commit("base", map[string]string{"main.tf": "# v1\n"})
	srv := newGitHTTPServer(t, filepath.Dir(up.dir), "tok")
	repo := Repo{FullName: "acme/infra", CloneURL: srv.URL + "/" + filepath.Base(up.dir)}
	m, mirror := mirrorOf(t, up) // the mirror's path depends on the name alone
	if err := m.Fetch(ctx, repo, "tok", "+"+base+":refs/pull/1/base"); err != nil {
		t.Fatal(err)
	}
	head := up.commit("head", map[string]string{"main.tf": "# v2\n"})

	plantLock(t, mirror, "refs/pull/2/head")
	if err := m.Fetch(ctx, repo, "tok", "+"+head+":refs/pull/2/head"); err == nil {
		t.Fatal("a fetch whose ref is locked succeeded")
	}
	if !m.Has(ctx, repo, head) {
		t.Fatal("the failed fetch stored no commit; the case under test needs it held")
	}
	reqs := len(srv.served())
	if err := m.Fetch(ctx, repo, "tok", "+"+head+":refs/pull/2/head", "+"+base+":refs/pull/2/base"); err != nil {
		t.Fatal(err)
	}
	if asked := srv.served()[reqs:]; len(asked) != 0 {
		t.Errorf("naming held commits asked the server:\n%s", strings.Join(asked, "\n"))
	}
	refs := mirrorGit(t, mirror, "for-each-ref", "--format=%(refname) %(objectname)", "refs/pull/2/")
	for _, want := range []string{"refs/pull/2/base " + base, "refs/pull/2/head " + head} {
		if !strings.Contains(refs, want) {
			t.Errorf("refs after the fetch:\n%swant %s", refs, want)
		}
	}
}

// A commit the mirror holds without its tree (a pack a failed fetch left)
// is fetched again before any ref names it.
func TestHeldButIncompleteCommitIsFetched(t *testing.T) {
	ctx := context.Background()
	up, m, mirror, _ := mirrorHolding(t, "refs/heads/main")
	head := up.commit("head", map[string]string{"main.tf": "# v2\n"})

	// A pack of the commit object alone, stored in the mirror.
	pack := exec.Command("git", "-C", up.dir, "pack-objects", "--stdout")
	pack.Stdin = strings.NewReader(head + "\n")
	data, err := pack.Output()
	if err != nil {
		t.Fatal(err)
	}
	index := exec.Command("git", "--git-dir="+mirror, "index-pack", "--stdin")
	index.Stdin = bytes.NewReader(data)
	if out, err := index.CombinedOutput(); err != nil {
		t.Fatalf("index-pack: %v\n%s", err, out)
	}
	if !m.Has(ctx, up.repo(), head) {
		t.Fatal("the mirror does not hold the commit; the case under test needs it")
	}

	fetchAll(t, m, up.repo(), "+"+head+":refs/pull/3/head")
	mirrorGit(t, mirror, "rev-list", "--objects", "--quiet", "refs/pull/3/head")
	wantRef(t, mirror, "refs/pull/3/head", head)
}

// A lock file that stops naming a held commit (left by a killed
// update-ref) fails that fetch only: the next one clears it.
func TestNamingAHeldCommitRecoversFromAStaleLock(t *testing.T) {
	ctx := context.Background()
	up, m, mirror, base := mirrorHolding(t, "refs/pull/1/base")
	plantLock(t, mirror, "refs/pull/2/base")
	if err := m.Fetch(ctx, up.repo(), "", "+"+base+":refs/pull/2/base"); err == nil {
		t.Fatal("naming a commit under a locked ref succeeded")
	}
	fetchAll(t, m, up.repo(), "+"+base+":refs/pull/2/base")
	wantRef(t, mirror, "refs/pull/2/base", base)
}

// mirrorOf is a fresh Manager and the path its mirror of up will take.
func mirrorOf(t *testing.T, up *upstream) (*Manager, string) {
	t.Helper()
	m, _ := newManager(t)
	mirror, err := m.mirrorPath(up.repo())
	if err != nil {
		t.Fatal(err)
	}
	return m, mirror
}

// plantLock leaves ref's lock file in mirror, as a killed update-ref does.
func plantLock(t *testing.T, mirror, ref string) {
	t.Helper()
	lock := filepath.Join(mirror, filepath.FromSlash(ref)+".lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mirrorHolding is a Manager whose mirror holds an upstream's first commit
// under ref.
func mirrorHolding(t *testing.T, ref string) (up *upstream, m *Manager, mirror, first string) {
	t.Helper()
	up = newUpstream(t)
	first = up.commit("first", map[string]string{"main.tf": "# v1\n"})
	m, mirror = mirrorOf(t, up)
	fetchAll(t, m, up.repo(), "+"+first+":"+ref)
	return up, m, mirror, first
}

// wantRef fails the test unless ref in mirror names id.
func wantRef(t *testing.T, mirror, ref, id string) {
	t.Helper()
	if got := strings.TrimSpace(mirrorGit(t, mirror, "rev-parse", ref)); got != id {
		t.Errorf("%s = %s, want %s", ref, got, id)
	}
}
