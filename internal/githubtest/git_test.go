package githubtest

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runGit runs git the way tfpr's workspace does: the token travels in an
// http.extraHeader given through GIT_CONFIG_* variables, never in the URL
// or argv.
func runGit(t *testing.T, token, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GCM_INTERACTIVE=never")
	if token != "" {
		cred := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		cmd.Env = append(cmd.Env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+cred)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestGitCloneNeedsARepoToken(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	infra := s.AddRepo(t, "acme", "infra", 7)
	other := s.AddRepo(t, "globex", "net", 8)
	sha := infra.Commit(t, "main", map[string]string{"envs/dev/main.tf": "# dev\n"}, "dev")
	ctx := context.Background()
	tok7, err := installation(t, s, s.PrivateKeyPEM(), 7, nil).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok8, err := installation(t, s, s.PrivateKeyPEM(), 8, nil).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		url   string
		ok    bool
	}{
		{"repo token", tok7, infra.CloneURL(), true},
		{"no token", "", infra.CloneURL(), false},
		{"token of another installation", tok8, infra.CloneURL(), false},
		{"made-up token", "ghs_" + strings.Repeat("a", 36), infra.CloneURL(), false},
		{"other installation's own repo", tok8, other.CloneURL(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "clone")
			out, err := runGit(t, tc.token, "", "clone", "--quiet", tc.url, dest)
			if tc.ok != (err == nil) {
				t.Fatalf("clone ok = %v, want %v: %s", err == nil, tc.ok, out)
			}
			if tc.ok && tc.url == infra.CloneURL() {
				b, err := os.ReadFile(filepath.Join(dest, "envs", "dev", "main.tf"))
				head, _ := runGit(t, "", dest, "rev-parse", "HEAD")
				if err != nil || string(b) != "# dev\n" || head != sha {
					t.Fatalf("clone content %q at %s, want the committed file at %s", b, head, sha)
				}
			}
			if strings.Contains(out, tok7) || strings.Contains(out, tok8) {
				t.Fatal("git output shows the token")
			}
		})
	}

	t.Run("unauthenticated request gets a Basic challenge", func(t *testing.T) {
		resp, err := s.srv.Client().Get(infra.CloneURL() + "/info/refs?service=git-upload-pack")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="GitHub"` {
			t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("push is refused", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "clone")
		if out, err := runGit(t, tok7, "", "clone", "--quiet", infra.CloneURL(), dest); err != nil {
			t.Fatal(out)
		}
		before := infra.Head(t, "main")
		if out, err := runGit(t, tok7, dest, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "--allow-empty", "-m", "x"); err != nil {
			t.Fatal(out)
		}
		if out, err := runGit(t, tok7, dest, "push", "origin", "HEAD:main"); err == nil {
			t.Fatalf("push succeeded: %s", out)
		}
		if infra.Head(t, "main") != before {
			t.Fatal("push moved main")
		}
	})
}

func TestGitFetchPullHeadBySHA(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	r := s.AddRepo(t, "acme", "infra", 7)
	r.Commit(t, "feature", map[string]string{"a.tf": "# a\n"}, "a")
	r.OpenPR(t, 5, "feature", "alice")
	// A push to the PR branch moves the PR head and refs/pull/5/head.
	head := r.Commit(t, "feature", map[string]string{"a.tf": "", "b.tf": "# b\n"}, "b")
	if got := r.PR(5).HeadSHA; got != head {
		t.Fatalf("PR head = %s after push, want %s", got, head)
	}
	tok, err := installation(t, s, s.PrivateKeyPEM(), 7, nil).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "--quiet"},
		{"fetch", "--quiet", "--depth=1", r.CloneURL(), head},
		{"checkout", "--quiet", "FETCH_HEAD"},
	} {
		if out, err := runGit(t, tok, dir, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a.tf")); !os.IsNotExist(err) {
		t.Fatal("deleted file a.tf is still there")
	}
	if out, err := runGit(t, tok, dir, "fetch", "--quiet", r.CloneURL(), "refs/pull/5/head"); err != nil {
		t.Fatal(out)
	}
	if got, _ := runGit(t, "", dir, "rev-parse", "FETCH_HEAD"); got != head {
		t.Fatalf("refs/pull/5/head = %s, want %s", got, head)
	}
}

func TestMergeIsANoFFMergeIntoMain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		moveMain bool
	}{
		{"main unchanged since the PR opened (fast-forward possible)", false},
		{"main moved since the PR opened", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, Options{})
			r := s.AddRepo(t, "acme", "infra", 7)
			r.Commit(t, "feature", map[string]string{"envs/prod/main.tf": "# prod\n"}, "prod")
			r.OpenPR(t, 3, "feature", "alice")
			if tc.moveMain {
				r.Commit(t, "main", map[string]string{"README.md": "# infra v2\n"}, "readme")
			}
			oldMain := r.Head(t, "main")
			head := r.PR(3).HeadSHA

			sha := r.Merge(t, 3, "bob")

			if got := r.Head(t, "main"); got != sha {
				t.Fatalf("main = %s, want merge %s", got, sha)
			}
			parents := r.mustGit(t, t.Context(), r.dir, "rev-list", "--parents", "-n1", sha)
			if want := sha + " " + oldMain + " " + head; parents != want {
				t.Fatalf("merge parents = %q, want first parent old main then PR head: %q", parents, want)
			}
			msg := r.mustGit(t, t.Context(), r.dir, "log", "-1", "--format=%s", sha)
			if msg != "Merge pull request #3 from acme/feature" {
				t.Fatalf("merge subject = %q", msg)
			}
			pr := r.PR(3)
			if !pr.Merged || pr.State != "closed" || pr.MergeCommitSHA != sha {
				t.Fatalf("PR after merge = %+v", pr)
			}
		})
	}
}
