package githubtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-github/v88/github"
)

func parse(t *testing.T, event string, body []byte) any {
	t.Helper()
	ev, err := github.ParseWebHook(event, body)
	if err != nil {
		t.Fatalf("ParseWebHook(%s): %v", event, err)
	}
	return ev
}

func TestPullRequestPayloads(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	r := s.AddRepo(t, "acme", "infra", 7)
	first := r.Commit(t, "feature", map[string]string{"a.tf": "# a\n"}, "a")
	r.OpenPR(t, 4, "feature", "alice")
	head := r.Commit(t, "feature", map[string]string{"b.tf": "# b\n"}, "b")
	base := r.PR(4).BaseSHA

	check := func(t *testing.T, ev *github.PullRequestEvent, action, state string) {
		t.Helper()
		pr := ev.GetPullRequest()
		switch {
		case ev.GetAction() != action, ev.GetNumber() != 4, pr.GetNumber() != 4, pr.GetState() != state:
			t.Fatalf("action %q number %d/%d state %q", ev.GetAction(), ev.GetNumber(), pr.GetNumber(), pr.GetState())
		case pr.GetHead().GetSHA() != head, pr.GetHead().GetRef() != "feature", pr.GetBase().GetSHA() != base, pr.GetBase().GetRef() != "main":
			t.Fatalf("head %s@%s base %s@%s", pr.GetHead().GetRef(), pr.GetHead().GetSHA(), pr.GetBase().GetRef(), pr.GetBase().GetSHA())
		case pr.GetHead().GetRepo().GetFullName() != "acme/infra", pr.GetBase().GetRepo().GetCloneURL() != r.CloneURL():
			t.Fatalf("head/base repo %s %s", pr.GetHead().GetRepo().GetFullName(), pr.GetBase().GetRepo().GetCloneURL())
		case ev.GetRepo().GetFullName() != "acme/infra", ev.GetRepo().GetName() != "infra", ev.GetRepo().GetOwner().GetLogin() != "acme",
			ev.GetRepo().GetCloneURL() != r.CloneURL(), ev.GetRepo().GetDefaultBranch() != "main":
			t.Fatalf("repository %+v", ev.GetRepo())
		case pr.GetUser().GetLogin() != "alice", ev.GetInstallation().GetID() != 7:
			t.Fatalf("author %q installation %d", pr.GetUser().GetLogin(), ev.GetInstallation().GetID())
		}
	}

	t.Run("synchronize", func(t *testing.T) {
		ev := parse(t, "pull_request", r.PullRequestPayload(t, 4, "synchronize")).(*github.PullRequestEvent)
		check(t, ev, "synchronize", "open")
		if ev.GetBefore() != first || ev.GetAfter() != head || ev.GetPullRequest().GetMerged() || ev.GetPullRequest().MergeCommitSHA != nil {
			t.Fatalf("before %s after %s merged %v", ev.GetBefore(), ev.GetAfter(), ev.GetPullRequest().GetMerged())
		}
	})

	merge := r.Merge(t, 4, "bob")
	t.Run("closed after merge", func(t *testing.T) {
		ev := parse(t, "pull_request", r.PullRequestPayload(t, 4, "closed")).(*github.PullRequestEvent)
		check(t, ev, "closed", "closed")
		pr := ev.GetPullRequest()
		if !pr.GetMerged() || pr.GetMergeCommitSHA() != merge || pr.GetMergedBy().GetLogin() != "bob" || ev.GetSender().GetLogin() != "bob" {
			t.Fatalf("merged %v sha %s by %s", pr.GetMerged(), pr.GetMergeCommitSHA(), pr.GetMergedBy().GetLogin())
		}
	})
}

func TestPushPayload(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	r := s.AddRepo(t, "acme", "infra", 7)
	before := r.Head(t, "main")
	mid := r.Commit(t, "main", map[string]string{"envs/dev/main.tf": "# dev\n", "README.md": "# new\n"}, "dev")
	after := r.Commit(t, "main", map[string]string{"envs/dev/main.tf": ""}, "drop dev")

	ev := parse(t, "push", r.PushPayload(t, "refs/heads/main", before, after)).(*github.PushEvent)
	if ev.GetRef() != "refs/heads/main" || ev.GetBefore() != before || ev.GetAfter() != after || ev.GetCreated() || ev.GetDeleted() || ev.GetForced() {
		t.Fatalf("ref %s %s..%s created %v deleted %v forced %v", ev.GetRef(), ev.GetBefore(), ev.GetAfter(), ev.GetCreated(), ev.GetDeleted(), ev.GetForced())
	}
	if ev.GetRepo().GetFullName() != "acme/infra" || ev.GetRepo().GetCloneURL() != r.CloneURL() || ev.GetRepo().GetDefaultBranch() != "main" || ev.GetInstallation().GetID() != 7 {
		t.Fatalf("repository %s %s installation %d", ev.GetRepo().GetFullName(), ev.GetRepo().GetCloneURL(), ev.GetInstallation().GetID())
	}
	if len(ev.Commits) != 2 || ev.Commits[0].GetID() != mid || ev.GetHeadCommit().GetID() != after {
		t.Fatalf("%d commits, head commit %s", len(ev.Commits), ev.GetHeadCommit().GetID())
	}
	c := ev.Commits[0]
	if !slices.Equal(c.Added, []string{"envs/dev/main.tf"}) || !slices.Equal(c.Modified, []string{"README.md"}) || !slices.Equal(ev.GetHeadCommit().Removed, []string{"envs/dev/main.tf"}) {
		t.Fatalf("added %v modified %v removed %v", c.Added, c.Modified, ev.GetHeadCommit().Removed)
	}

	created := parse(t, "push", r.PushPayload(t, "refs/heads/new", zeroSHA, after)).(*github.PushEvent)
	if !created.GetCreated() || len(created.Commits) != 1 {
		t.Fatalf("branch creation: created %v, %d commits", created.GetCreated(), len(created.Commits))
	}
}

func TestCommentPayload(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	r := s.AddRepo(t, "acme", "infra", 7)
	r.Commit(t, "feature", map[string]string{"a.tf": "# a\n"}, "a")
	r.OpenPR(t, 2, "feature", "alice")

	ev := parse(t, "issue_comment", r.CommentPayload(t, 2, "carol", "tfpr apply")).(*github.IssueCommentEvent)
	switch {
	case ev.GetAction() != "created", ev.GetIssue().GetNumber() != 2, !ev.GetIssue().IsPullRequest():
		t.Fatalf("action %q issue %d is PR %v", ev.GetAction(), ev.GetIssue().GetNumber(), ev.GetIssue().IsPullRequest())
	case ev.GetComment().GetBody() != "tfpr apply", ev.GetComment().GetUser().GetLogin() != "carol", ev.GetSender().GetLogin() != "carol":
		t.Fatalf("comment %q by %q sender %q", ev.GetComment().GetBody(), ev.GetComment().GetUser().GetLogin(), ev.GetSender().GetLogin())
	case ev.GetRepo().GetFullName() != "acme/infra", ev.GetInstallation().GetID() != 7:
		t.Fatalf("repository %s installation %d", ev.GetRepo().GetFullName(), ev.GetInstallation().GetID())
	}
}

func TestDeliverSignsLikeGitHub(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	r := s.AddRepo(t, "acme", "infra", 7)
	secret := []byte("hook-secret")
	type got struct {
		event, id string
		payload   []byte
		err       error
	}
	seen := make(chan got, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		payload, err := github.ValidatePayload(req, secret)
		seen <- got{github.WebHookType(req), github.DeliveryID(req), payload, err}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "queued")
	}))
	t.Cleanup(hook.Close)

	body := r.PushPayload(t, "refs/heads/main", zeroSHA, r.Head(t, "main"))
	resp := s.Deliver(t, hook.URL, secret, "push", body)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || string(b) != "queued" {
		t.Fatalf("response %d %q", resp.StatusCode, b)
	}
	g := <-seen
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if g.err != nil || g.event != "push" || !uuid.MatchString(g.id) || string(g.payload) != string(body) {
		t.Fatalf("receiver saw event %q id %q err %v", g.event, g.id, g.err)
	}

	s.DeliverID(t, hook.URL, []byte("wrong"), "push", "fixed-id", body)
	if g := <-seen; g.err == nil || g.id != "fixed-id" {
		t.Fatalf("wrong secret: id %q err %v; want a signature error", g.id, g.err)
	}
}
