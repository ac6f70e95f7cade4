package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// FixtureDir returns the directory of GitHub's documented webhook example
// payloads, <module root>/../shared/fixtures/github-webhooks, where the
// module root is the nearest directory above the working directory holding
// go.mod.
func FixtureDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("githubtest: FixtureDir: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("githubtest: FixtureDir: no go.mod in any directory above the working directory")
		}
		dir = parent
	}
	fixtures := filepath.Join(filepath.Dir(dir), "shared", "fixtures", "github-webhooks")
	if st, err := os.Stat(fixtures); err != nil || !st.IsDir() {
		t.Fatalf("githubtest: FixtureDir: webhook fixtures not found at %s (expected GitHub's example payloads in shared/fixtures/github-webhooks beside the repository)", fixtures)
	}
	return fixtures
}

func loadFixture(t testing.TB, rel string) map[string]any {
	t.Helper()
	path := filepath.Join(FixtureDir(t), filepath.FromSlash(rel))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("githubtest: read webhook fixture: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("githubtest: parse webhook fixture %s: %v", path, err)
	}
	return m
}

// set assigns v at a dotted path, creating objects on the way.
func set(m map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// patchRepository points a fixture's repository object at r.
func (r *Repo) patchRepository(m map[string]any) {
	set(m, "id", r.id)
	set(m, "node_id", fmt.Sprintf("R_%d", r.id))
	set(m, "name", r.name)
	set(m, "full_name", r.FullName())
	set(m, "owner.login", r.owner)
	if owner, _ := m["owner"].(map[string]any); owner["name"] != nil {
		set(m, "owner.name", r.owner) // push payloads carry owner.name
	}
	set(m, "private", true)
	set(m, "html_url", r.htmlURL())
	set(m, "url", r.apiURL())
	set(m, "clone_url", r.CloneURL())
	set(m, "default_branch", "main")
	if _, ok := m["master_branch"]; ok {
		set(m, "master_branch", "main")
	}
}

func (r *Repo) patchCommon(m map[string]any) {
	repo, ok := m["repository"].(map[string]any)
	if !ok {
		repo = map[string]any{}
		m["repository"] = repo
	}
	r.patchRepository(repo)
	set(m, "installation.id", r.installationID)
}

func marshalPayload(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("githubtest: encode payload: %v", err)
	}
	return b
}

func (r *Repo) prSnapshot(t testing.TB, number int) prState {
	t.Helper()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	pr, ok := r.prs[number]
	if !ok {
		t.Fatalf("githubtest: %s has no pull request #%d", r.FullName(), number)
	}
	cp := *pr
	return cp
}

// PullRequestPayload builds a pull_request delivery for pull request
// number from GitHub's example payload (closed.payload.json for "closed",
// opened.payload.json otherwise), patched with the PR's current state.
// "synchronize" carries before/after from the PR's last Commit.
func (r *Repo) PullRequestPayload(t testing.TB, number int, action string) []byte {
	t.Helper()
	pr := r.prSnapshot(t, number)
	fixture := "pull_request/opened.payload.json"
	if action == "closed" {
		fixture = "pull_request/closed.payload.json"
	}
	m := loadFixture(t, fixture)
	r.patchCommon(m)
	repo := m["repository"]

	state := "open"
	if action == "closed" || pr.State == "closed" {
		state = "closed"
	}
	set(m, "action", action)
	set(m, "number", number)
	set(m, "pull_request.id", pr.id)
	set(m, "pull_request.number", number)
	set(m, "pull_request.state", state)
	set(m, "pull_request.title", pr.title)
	set(m, "pull_request.body", pr.body)
	set(m, "pull_request.url", fmt.Sprintf("%s/pulls/%d", r.apiURL(), number))
	set(m, "pull_request.html_url", fmt.Sprintf("%s/pull/%d", r.htmlURL(), number))
	set(m, "pull_request.user.login", pr.Author)
	set(m, "pull_request.head.ref", pr.HeadBranch)
	set(m, "pull_request.head.sha", pr.HeadSHA)
	set(m, "pull_request.head.label", r.owner+":"+pr.HeadBranch)
	set(m, "pull_request.head.user.login", r.owner)
	set(m, "pull_request.head.repo", repo)
	set(m, "pull_request.base.ref", "main")
	set(m, "pull_request.base.sha", pr.BaseSHA)
	set(m, "pull_request.base.label", r.owner+":main")
	set(m, "pull_request.base.user.login", r.owner)
	set(m, "pull_request.base.repo", repo)
	set(m, "pull_request.merged", pr.Merged)
	set(m, "sender.login", pr.Author)
	if pr.Merged {
		set(m, "pull_request.merge_commit_sha", pr.MergeCommitSHA)
		set(m, "pull_request.merged_by", map[string]any{"login": pr.mergedBy, "type": "User"})
		set(m, "pull_request.merged_at", pr.closedAt.UTC().Format(time.RFC3339))
		set(m, "sender.login", pr.mergedBy)
	} else {
		set(m, "pull_request.merge_commit_sha", nil)
		set(m, "pull_request.merged_by", nil)
		set(m, "pull_request.merged_at", nil)
	}
	if state == "closed" {
		closed := pr.closedAt
		if closed.IsZero() {
			closed = time.Now()
		}
		set(m, "pull_request.closed_at", closed.UTC().Format(time.RFC3339))
	} else {
		set(m, "pull_request.closed_at", nil)
	}
	if action == "synchronize" {
		set(m, "before", pr.prevHeadSHA)
		set(m, "after", pr.HeadSHA)
	}
	return marshalPayload(t, m)
}

// PushPayload builds a push delivery from GitHub's example payload, with
// commits and head_commit read from the repository.
func (r *Repo) PushPayload(t testing.TB, ref, before, after string) []byte {
	t.Helper()
	dir := FixtureDir(t)
	fixture := "push/with-installation.payload.json"
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(fixture))); err != nil {
		fixture = "push/payload.json"
	}
	m := loadFixture(t, fixture)
	r.patchCommon(m)
	set(m, "ref", ref)
	set(m, "before", before)
	set(m, "after", after)
	set(m, "created", before == zeroSHA)
	set(m, "deleted", after == zeroSHA)
	set(m, "base_ref", nil)
	set(m, "compare", fmt.Sprintf("%s/compare/%.12s...%.12s", r.htmlURL(), before, after))

	forced := false
	commits := []any{}
	if after != zeroSHA {
		shas := after
		if before != zeroSHA {
			if _, err := r.git(t.Context(), r.dir, "merge-base", "--is-ancestor", before, after); err != nil {
				forced = true
			}
			// GitHub lists at most the 20 newest commits of a push.
			shas = r.mustGit(t, t.Context(), r.dir, "rev-list", "--max-count=20", before+".."+after)
		}
		list := strings.Fields(shas)
		slices.Reverse(list)
		for _, sha := range list {
			commits = append(commits, r.pushCommit(t, sha))
		}
	}
	set(m, "forced", forced)
	set(m, "commits", commits)
	if len(commits) > 0 {
		set(m, "head_commit", commits[len(commits)-1])
	} else {
		set(m, "head_commit", nil)
	}
	return marshalPayload(t, m)
}

// pushCommit describes one commit the way push payloads do.
func (r *Repo) pushCommit(t testing.TB, sha string) map[string]any {
	t.Helper()
	ctx := t.Context()
	info := strings.SplitN(r.mustGit(t, ctx, r.dir, "show", "-s", "--format=%T%n%an%n%ae%n%cn%n%ce%n%cI%n%B", sha), "\n", 7)
	for len(info) < 7 {
		info = append(info, "")
	}
	added, removed, modified := []string{}, []string{}, []string{}
	changes := r.mustGit(t, ctx, r.dir, "diff-tree", "--root", "--no-commit-id", "-r", "--name-status", "-m", "--first-parent", sha)
	for _, line := range strings.Split(changes, "\n") {
		status, file, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		switch status[:1] {
		case "A":
			added = append(added, file)
		case "D":
			removed = append(removed, file)
		default:
			modified = append(modified, file)
		}
	}
	return map[string]any{
		"id":        sha,
		"tree_id":   info[0],
		"distinct":  true,
		"message":   strings.TrimSpace(info[6]),
		"timestamp": info[5],
		"url":       r.htmlURL() + "/commit/" + sha,
		"author":    map[string]any{"name": info[1], "email": info[2]},
		"committer": map[string]any{"name": info[3], "email": info[4]},
		"added":     added,
		"removed":   removed,
		"modified":  modified,
	}
}

// CommentPayload builds an issue_comment "created" delivery from GitHub's
// example payload for a comment by user on pull request (or issue) number.
func (r *Repo) CommentPayload(t testing.TB, number int, user, body string) []byte {
	t.Helper()
	return r.CommentPayloadID(t, number, r.s.newID(), user, body)
}

// CommentPayloadID is CommentPayload for the comment with the given ID, such
// as one AddComment recorded.
func (r *Repo) CommentPayloadID(t testing.TB, number int, id int64, user, body string) []byte {
	t.Helper()
	r.s.mu.Lock()
	pr, isPR := r.prs[number]
	is, isIssue := r.issues[number]
	var state, title, author string
	switch {
	case isPR:
		state, title, author = pr.State, pr.title, pr.Author
	case isIssue:
		state, title, author = is.state, is.title, is.user
	}
	r.s.mu.Unlock()
	if !isPR && !isIssue {
		t.Fatalf("githubtest: CommentPayload: %s has no pull request or issue #%d", r.FullName(), number)
	}
	m := loadFixture(t, "issue_comment/created.payload.json")
	r.patchCommon(m)
	set(m, "action", "created")
	set(m, "issue.number", number)
	set(m, "issue.state", state)
	set(m, "issue.title", title)
	set(m, "issue.user.login", author)
	set(m, "issue.url", fmt.Sprintf("%s/issues/%d", r.apiURL(), number))
	set(m, "issue.repository_url", r.apiURL())
	issue := m["issue"].(map[string]any)
	if isPR {
		set(m, "issue.html_url", fmt.Sprintf("%s/pull/%d", r.htmlURL(), number))
		issue["pull_request"] = map[string]any{
			"url":       fmt.Sprintf("%s/pulls/%d", r.apiURL(), number),
			"html_url":  fmt.Sprintf("%s/pull/%d", r.htmlURL(), number),
			"diff_url":  fmt.Sprintf("%s/pull/%d.diff", r.htmlURL(), number),
			"patch_url": fmt.Sprintf("%s/pull/%d.patch", r.htmlURL(), number),
		}
	} else {
		set(m, "issue.html_url", fmt.Sprintf("%s/issues/%d", r.htmlURL(), number))
		delete(issue, "pull_request")
	}
	set(m, "comment.id", id)
	set(m, "comment.body", body)
	set(m, "comment.user.login", user)
	set(m, "comment.issue_url", fmt.Sprintf("%s/issues/%d", r.apiURL(), number))
	set(m, "comment.url", fmt.Sprintf("%s/issues/comments/%d", r.apiURL(), id))
	set(m, "sender.login", user)
	return marshalPayload(t, m)
}

// Sign is the X-Hub-Signature-256 value for body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Deliver POSTs a webhook delivery with a fresh delivery ID.
func (s *Server) Deliver(t testing.TB, webhookURL string, secret []byte, event string, body []byte) *http.Response {
	t.Helper()
	return s.DeliverID(t, webhookURL, secret, event, newDeliveryID(t), body)
}

// DeliverID POSTs a webhook delivery the way GitHub does. The returned
// response's body has been read in full and closed; its bytes stay
// readable from Body.
func (s *Server) DeliverID(t testing.TB, webhookURL string, secret []byte, event, deliveryID string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("githubtest: build %s delivery: %v", event, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/githubtest")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", deliveryID)
	req.Header.Set("X-GitHub-Hook-ID", "1")
	req.Header.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	req.Header.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(s.appID, 10))
	if secret != nil {
		req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("githubtest: deliver %s %s: %v", event, deliveryID, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("githubtest: read %s delivery response: %v", event, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// newDeliveryID makes a random version-4 UUID, the form GitHub uses.
func newDeliveryID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("githubtest: random delivery ID: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
