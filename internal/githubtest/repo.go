package githubtest

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
)

// Repo is a repository on the fake: a bare git repository served over
// smart HTTP plus the pull requests, issues, comments and check runs the
// API records for it.
type Repo struct {
	s              *Server
	owner, name    string
	id             int64
	installationID int64
	dir            string // bare repository

	gitMu sync.Mutex // serializes ref moves done through scratch work trees

	// Guarded by s.mu.
	prs       map[int]*prState
	issues    map[int]*issueState
	comments  []*commentState
	checkRuns []*checkRunState
	perms     map[string]string
	labels    map[string]Label   // the repository's labels, by lower-cased name
	reactions map[int64][]string // reactions on comments, by comment id
}

// PR is the fake's view of a pull request.
type PR struct {
	Number                                                      int
	HeadBranch, HeadSHA, BaseSHA, Author, State, MergeCommitSHA string
	Merged                                                      bool
}

type prState struct {
	PR
	id          int64
	title, body string
	mergedBy    string
	prevHeadSHA string   // head before the last Commit, for synchronize payloads
	landed      []string // commits a rebase merge put on main, oldest first
	labels      []string
	createdAt   time.Time
	closedAt    time.Time
}

// AddRepo creates owner/name, installed on installationID, with a default
// branch "main" holding one commit.
func (s *Server) AddRepo(t testing.TB, owner, name string, installationID int64) *Repo {
	t.Helper()
	if owner == "" || name == "" || strings.ContainsAny(owner+name, "/\\ ") || strings.HasPrefix(owner, ".") || strings.HasPrefix(name, ".") {
		t.Fatalf("githubtest: AddRepo: invalid repository name %q/%q", owner, name)
	}
	if installationID <= 0 {
		t.Fatalf("githubtest: AddRepo %s/%s: installation ID must be positive, got %d", owner, name, installationID)
	}
	key := strings.ToLower(owner + "/" + name)
	r := &Repo{
		s:              s,
		owner:          owner,
		name:           name,
		id:             s.newID(),
		installationID: installationID,
		dir:            filepath.Join(s.root, owner, name+".git"),
		prs:            map[int]*prState{},
		issues:         map[int]*issueState{},
		perms:          map[string]string{},
		labels:         map[string]Label{},
		reactions:      map[int64][]string{},
	}
	s.mu.Lock()
	if _, dup := s.repos[key]; dup {
		s.mu.Unlock()
		t.Fatalf("githubtest: AddRepo: %s/%s already exists", owner, name)
	}
	s.repos[key] = r
	s.mu.Unlock()

	ctx := t.Context()
	if err := os.MkdirAll(filepath.Dir(r.dir), 0o755); err != nil {
		t.Fatalf("githubtest: create %s: %v", r.dir, err)
	}
	r.mustGit(t, ctx, "", "init", "--quiet", "--bare", "--initial-branch=main", r.dir)
	// tfpr fetches PR heads and merge commits by SHA.
	r.mustGit(t, ctx, r.dir, "config", "uploadpack.allowReachableSHA1InWant", "true")
	r.mustGit(t, ctx, r.dir, "config", "uploadpack.allowAnySHA1InWant", "true")

	work := r.scratchDir(t)
	defer os.RemoveAll(work)
	r.mustGit(t, ctx, work, "init", "--quiet", "--initial-branch=main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("# "+name+"\n"), 0o644); err != nil {
		t.Fatalf("githubtest: write README.md: %v", err)
	}
	r.mustGit(t, ctx, work, "add", "-A")
	r.mustGit(t, ctx, work, "commit", "--quiet", "-m", "Initial commit")
	r.mustGit(t, ctx, work, "push", "--quiet", r.dir, "HEAD:refs/heads/main")
	return r
}

// FullName is "owner/name".
func (r *Repo) FullName() string { return r.owner + "/" + r.name }

// CloneURL is the smart HTTP URL git fetches from.
func (r *Repo) CloneURL() string { return r.s.URL() + "/" + r.owner + "/" + r.name + ".git" }

func (r *Repo) htmlURL() string { return r.s.URL() + "/" + r.owner + "/" + r.name }
func (r *Repo) apiURL() string  { return r.s.APIURL() + "repos/" + r.owner + "/" + r.name }

// Commit writes files on branch (a "" value deletes the file), commits and
// updates the bare repository; a missing branch is created from main. Open
// pull requests from branch move their head along, as a push does.
func (r *Repo) Commit(t testing.TB, branch string, files map[string]string, msg string) string {
	t.Helper()
	ctx := t.Context()
	r.gitMu.Lock()
	defer r.gitMu.Unlock()

	work := r.scratchDir(t)
	defer os.RemoveAll(work)
	r.mustGit(t, ctx, "", "clone", "--quiet", r.dir, work)
	if _, err := r.git(ctx, r.dir, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err == nil {
		r.mustGit(t, ctx, work, "checkout", "--quiet", "-B", branch, "origin/"+branch)
	} else {
		r.mustGit(t, ctx, work, "checkout", "--quiet", "-b", branch, "origin/main")
	}
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		clean := path.Clean(name)
		if name == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || clean == ".git" || strings.HasPrefix(clean, ".git/") {
			t.Fatalf("githubtest: Commit %s@%s: file path %q must be relative and inside the repository", r.FullName(), branch, name)
		}
		p := filepath.Join(work, filepath.FromSlash(clean))
		if files[name] == "" {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Fatalf("githubtest: Commit %s@%s: delete %s: %v", r.FullName(), branch, name, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("githubtest: Commit %s@%s: create directory for %s: %v", r.FullName(), branch, name, err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatalf("githubtest: Commit %s@%s: write %s: %v", r.FullName(), branch, name, err)
		}
	}
	r.mustGit(t, ctx, work, "add", "-A")
	r.mustGit(t, ctx, work, "commit", "--quiet", "--allow-empty", "-m", msg)
	r.mustGit(t, ctx, work, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
	sha := r.mustGit(t, ctx, work, "rev-parse", "HEAD")

	r.s.mu.Lock()
	var moved []*prState
	for _, pr := range r.prs {
		if pr.State == "open" && pr.HeadBranch == branch {
			pr.prevHeadSHA, pr.HeadSHA = pr.HeadSHA, sha
			moved = append(moved, pr)
		}
	}
	r.s.mu.Unlock()
	for _, pr := range moved {
		r.mustGit(t, ctx, r.dir, "update-ref", fmt.Sprintf("refs/pull/%d/head", pr.Number), sha)
	}
	return sha
}

// Head is the commit branch points at.
func (r *Repo) Head(t testing.TB, branch string) string {
	t.Helper()
	return r.mustGit(t, t.Context(), r.dir, "rev-parse", "--verify", "refs/heads/"+branch+"^{commit}")
}

// OpenPR opens pull request number from headBranch into main and sets
// refs/pull/<number>/head.
func (r *Repo) OpenPR(t testing.TB, number int, headBranch, author string) *PR {
	t.Helper()
	if number <= 0 || headBranch == "" || headBranch == "main" || author == "" {
		t.Fatalf("githubtest: OpenPR %s#%d: need a positive number, a head branch other than main and an author (got branch %q, author %q)", r.FullName(), number, headBranch, author)
	}
	ctx := t.Context()
	r.gitMu.Lock()
	defer r.gitMu.Unlock()
	head := r.mustGit(t, ctx, r.dir, "rev-parse", "--verify", "refs/heads/"+headBranch+"^{commit}")
	base := r.mustGit(t, ctx, r.dir, "rev-parse", "--verify", "refs/heads/main^{commit}")
	id := r.s.newID()

	r.s.mu.Lock()
	if r.numberTaken(number) {
		r.s.mu.Unlock()
		t.Fatalf("githubtest: OpenPR %s#%d: number already used by a pull request or issue", r.FullName(), number)
	}
	pr := &prState{
		PR:        PR{Number: number, HeadBranch: headBranch, HeadSHA: head, BaseSHA: base, Author: author, State: "open"},
		id:        id,
		title:     "Update " + headBranch,
		createdAt: time.Now(),
	}
	r.prs[number] = pr
	out := pr.PR
	r.s.mu.Unlock()

	r.mustGit(t, ctx, r.dir, "update-ref", fmt.Sprintf("refs/pull/%d/head", number), head)
	return &out
}

// Merge merges pull request number into main with `git merge --no-ff`, as
// GitHub's merge button does, and marks it merged. It returns the merge
// commit's SHA.
func (r *Repo) Merge(t testing.TB, number int, mergedBy string) string {
	t.Helper()
	ctx := t.Context()
	r.gitMu.Lock()
	defer r.gitMu.Unlock()

	if mergedBy == "" {
		t.Fatalf("githubtest: Merge %s#%d: mergedBy is required", r.FullName(), number)
	}
	r.s.mu.Lock()
	pr, ok := r.prs[number]
	var cur prState
	if ok {
		cur = *pr
	}
	r.s.mu.Unlock()
	if !ok || cur.State != "open" {
		t.Fatalf("githubtest: Merge %s#%d: no open pull request with that number", r.FullName(), number)
	}

	work := r.scratchDir(t)
	defer os.RemoveAll(work)
	r.mustGit(t, ctx, "", "clone", "--quiet", "--branch", "main", r.dir, work)
	r.mustGit(t, ctx, work, "fetch", "--quiet", "origin", fmt.Sprintf("refs/pull/%d/head", number))
	msg := fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", number, r.owner, cur.HeadBranch, cur.title)
	env := []string{
		"GIT_AUTHOR_NAME=" + mergedBy,
		"GIT_AUTHOR_EMAIL=" + mergedBy + "@users.noreply.github.com",
		"GIT_COMMITTER_NAME=GitHub",
		"GIT_COMMITTER_EMAIL=noreply@github.com",
	}
	if out, err := r.gitEnv(ctx, work, env, "merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, "FETCH_HEAD"); err != nil {
		t.Fatalf("githubtest: Merge %s#%d: %v\n%s", r.FullName(), number, err, out)
	}
	r.mustGit(t, ctx, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	sha := r.mustGit(t, ctx, work, "rev-parse", "HEAD")

	r.s.mu.Lock()
	pr.State, pr.Merged, pr.MergeCommitSHA, pr.mergedBy, pr.closedAt = "closed", true, sha, mergedBy, time.Now()
	r.s.mu.Unlock()
	return sha
}

// RebaseMerge lands pull request number the way GitHub's "Rebase and
// merge" button does: each PR commit is replayed onto main as a new commit,
// main moves to the last one, and that last commit is the PR's
// merge_commit_sha. It returns the new commits, oldest first.
func (r *Repo) RebaseMerge(t testing.TB, number int, mergedBy string) []string {
	t.Helper()
	ctx := t.Context()
	r.gitMu.Lock()
	defer r.gitMu.Unlock()
	r.s.mu.Lock()
	pr, ok := r.prs[number]
	open := ok && pr.State == "open"
	r.s.mu.Unlock()
	if !open || mergedBy == "" {
		t.Fatalf("githubtest: RebaseMerge %s#%d: need an open pull request and who merges it", r.FullName(), number)
	}
	work := r.scratchDir(t)
	defer os.RemoveAll(work)
	r.mustGit(t, ctx, "", "clone", "--quiet", "--branch", "main", r.dir, work)
	r.mustGit(t, ctx, work, "fetch", "--quiet", "origin", fmt.Sprintf("refs/pull/%d/head", number))
	picks := strings.Fields(r.mustGit(t, ctx, work, "rev-list", "--reverse", "--no-merges", "HEAD..FETCH_HEAD"))
	env := []string{"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com"}
	var landed []string
	for _, c := range picks {
		if out, err := r.gitEnv(ctx, work, env, "cherry-pick", "--allow-empty", c); err != nil {
			t.Fatalf("githubtest: RebaseMerge %s#%d: replay %s: %v\n%s", r.FullName(), number, c, err, out)
		}
		landed = append(landed, r.mustGit(t, ctx, work, "rev-parse", "HEAD"))
	}
	if len(landed) == 0 {
		t.Fatalf("githubtest: RebaseMerge %s#%d: the pull request has no commits to land", r.FullName(), number)
	}
	r.mustGit(t, ctx, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	r.s.mu.Lock()
	pr.State, pr.Merged, pr.MergeCommitSHA, pr.mergedBy, pr.closedAt = "closed", true, landed[len(landed)-1], mergedBy, time.Now()
	pr.landed = landed
	r.s.mu.Unlock()
	return landed
}

// SetPermission sets user's role on the repository: "admin", "maintain",
// "write", "triage", "read" or "none". Users never set have "read".
func (r *Repo) SetPermission(user, perm string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.perms[strings.ToLower(user)] = perm
}

// PR returns pull request number, or the zero PR when there is none.
func (r *Repo) PR(number int) PR {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if pr, ok := r.prs[number]; ok {
		return pr.PR
	}
	return PR{}
}

// numberTaken reports whether a PR or issue uses number; callers hold s.mu.
func (r *Repo) numberTaken(number int) bool {
	_, pr := r.prs[number]
	_, is := r.issues[number]
	return pr || is
}

// nextNumber is the number GitHub would give a new issue; callers hold s.mu.
func (r *Repo) nextNumber() int {
	n := 0
	for k := range r.prs {
		n = max(n, k)
	}
	for k := range r.issues {
		n = max(n, k)
	}
	return n + 1
}

func (r *Repo) scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(r.s.scratch, "work-")
	if err != nil {
		t.Fatalf("githubtest: create scratch work tree: %v", err)
	}
	return dir
}

// gitEnviron isolates git from the host's and the test's git settings, so
// a developer's commit.gpgsign or a test's GIT_CONFIG_* cannot leak in.
func (s *Server) gitEnviron(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+s.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=tfpr test",
		"GIT_AUTHOR_EMAIL=test@tfpr.invalid",
		"GIT_COMMITTER_NAME=tfpr test",
		"GIT_COMMITTER_EMAIL=test@tfpr.invalid",
	)
	return append(env, extra...)
}

func (r *Repo) git(ctx context.Context, dir string, args ...string) (string, error) {
	return r.gitEnv(ctx, dir, nil, args...)
}

func (r *Repo) gitEnv(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, r.s.gitPath, args...)
	cmd.Dir = dir
	cmd.Env = r.s.gitEnviron(env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return strings.TrimSpace(out.String()), nil
}

func (r *Repo) mustGit(t testing.TB, ctx context.Context, dir string, args ...string) string {
	t.Helper()
	out, err := r.git(ctx, dir, args...)
	if err != nil {
		t.Fatalf("githubtest: %s: %v\n%s", r.FullName(), err, out)
	}
	return out
}

// resolveCommit turns a SHA, branch or tag into a commit SHA in the bare
// repository; ok is false when nothing matches.
func (r *Repo) resolveCommit(ctx context.Context, ref string) (string, bool) {
	for _, cand := range []string{ref, "refs/heads/" + ref, "refs/tags/" + ref} {
		if strings.HasPrefix(cand, "-") {
			return "", false
		}
		if sha, err := r.git(ctx, r.dir, "rev-parse", "--verify", "--quiet", cand+"^{commit}"); err == nil {
			return sha, true
		}
	}
	return "", false
}

func (r *Repo) apiRepo() *github.Repository {
	return &github.Repository{
		ID:            github.Ptr(r.id),
		NodeID:        github.Ptr(fmt.Sprintf("R_%d", r.id)),
		Name:          github.Ptr(r.name),
		FullName:      github.Ptr(r.FullName()),
		Owner:         r.s.apiUser(r.owner),
		Private:       github.Ptr(true),
		DefaultBranch: github.Ptr("main"),
		MasterBranch:  github.Ptr("main"),
		CloneURL:      github.Ptr(r.CloneURL()),
		HTMLURL:       github.Ptr(r.htmlURL()),
		URL:           github.Ptr(r.apiURL()),
		Visibility:    github.Ptr("private"),
	}
}

// botLogin is how GitHub names a GitHub App's bot user.
func (s *Server) botLogin() string { return s.appSlug + "[bot]" }

func (s *Server) apiUser(login string) *github.User {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(login)))
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return &github.User{
		Login:   github.Ptr(login),
		ID:      github.Ptr(int64(h.Sum32())),
		Type:    github.Ptr(typ),
		HTMLURL: github.Ptr(s.URL() + "/" + login),
	}
}

func sortedByNumber[T any](m map[int]T) []T {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
