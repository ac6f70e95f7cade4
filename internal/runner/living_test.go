package runner

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/webhook"
)

// pushPR moves PR 4 to head sha, a child of parent changing alpha to value
// ("": a head that differs from the base in nothing, as after a revert),
// and delivers the synchronize.
func (h *harness) pushPR(t *testing.T, sha, parent, alpha string) {
	t.Helper()
	change := map[string]string{}
	if alpha != "" {
		change[projA+"/input"] = alpha
	}
	h.ws.commit(sha, parent, change)
	h.gh.prs[4] = githubapp.PR{Number: 4, HeadSHA: sha, BaseRef: "main", Author: "alice", State: "open"}
	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "synchronize",
		PR: webhook.PullRequest{Number: 4, HeadSHA: sha, BaseRef: "main", BaseSHA: "b0", Author: "alice"}})
}

// Each plan round edits the PR's one living comment, found by its marker;
// a person's comment quoting the marker is never taken for it; a living
// comment a person deleted is posted again, not an error.
func TestLivingCommentIsEditedFoundByMarkerAndRecreated(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	if got := h.gh.commentsOn(4); len(got) != 1 || !strings.Contains(got[0], "tfpr plan for `h1`") {
		t.Fatalf("first round: %q, want one plan comment for h1", got)
	}
	quote := report.CommentMarker(report.KindPlan, "", 1) + "\nquoting tfpr's comment"
	h.gh.personComment(4, quote)

	h.pushPR(t, "h2", "h1", "v2")
	got := h.gh.commentsOn(4)
	if len(got) != 2 || !strings.Contains(got[0], "tfpr plan for `h2`") || strings.Contains(got[0], "`h1`") || got[1] != quote {
		t.Fatalf("after a synchronize: %q, want tfpr's comment edited to h2 and the person's untouched", got)
	}
	if h.gh.edits != 1 {
		t.Errorf("%d edits, want the round to edit the living comment once", h.gh.edits)
	}
	if l := h.gh.labels[4]; !slices.Equal(l, []string{"tfpr:changes"}) {
		t.Errorf("labels %q, want tfpr:changes", l)
	}

	h.gh.deleteComment(1)
	h.pushPR(t, "h3", "h2", "v3")
	got = h.gh.commentsOn(4)
	if len(got) != 2 || got[0] != quote || !strings.Contains(got[1], "tfpr plan for `h3`") {
		t.Fatalf("after the living comment was deleted: %q, want the person's and a new plan comment for h3", got)
	}

	// Deleted between tfpr listing its comments and editing one: the edit
	// finds it gone, and the comment is posted again.
	h.gh.deleteComment(3)
	h.gh.staleList = true
	h.pushPR(t, "h3b", "h3", "v3b")
	h.gh.staleList = false
	got = h.gh.commentsOn(4)
	if len(got) != 2 || got[0] != quote || !strings.Contains(got[1], "tfpr plan for `h3b`") {
		t.Fatalf("after the living comment was deleted during a round: %q, want the person's and a new plan comment for h3b", got)
	}

	// Reverted: the head affects nothing, and the comment and labels say so.
	h.pushPR(t, "h4", "h3b", "")
	got = h.gh.commentsOn(4)
	if len(got) != 2 || !strings.Contains(got[1], "tfpr plan for `h4`") || strings.Contains(got[1], projA) {
		t.Fatalf("after the revert: %q, want the living comment for h4 without alpha", got)
	}
	if l := h.gh.labels[4]; !slices.Equal(l, []string{"tfpr:no-changes"}) {
		t.Errorf("labels after the revert %q, want tfpr:no-changes", l)
	}
	if c := h.gh.check(t, "aggregate:plan"); c.HeadSHA != "h4" || c.Conclusion != "neutral" {
		t.Errorf("aggregate check %s at %s, want neutral at h4", c.Conclusion, c.HeadSHA)
	}
}

// A command's answer is a reaction on it plus a reply at the top of the
// living comment, never a new comment.
func TestCommandAnswersAreReactionsAndTheLivingComment(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	h.gh.perms["bob"] = "write"
	for _, tt := range []struct {
		body     string
		reaction githubapp.Reaction
		reply    string
	}{
		{"tfpr help", githubapp.ReactionDone, "`tfpr plan -p DIR`"},
		{"tfpr pln", githubapp.ReactionConfused, "Did you mean `tfpr plan`?"},
		{"tfpr plan -p " + projA, githubapp.ReactionDone, ""},
	} {
		id := h.gh.personComment(4, tt.body)
		err := h.r.command(context.Background(), store.Job{Kind: store.JobCommand, Repo: h.repo, PR: 4, IsPR: true, Actor: "bob", Body: tt.body, CommentID: id})
		if err != nil {
			t.Fatal(err)
		}
		if r := h.gh.reactions[id]; !slices.Equal(r, []githubapp.Reaction{tt.reaction}) {
			t.Errorf("%s: reactions %q, want %q", tt.body, r, tt.reaction)
		}
		own, _ := h.gh.OwnComments(context.Background(), 4, "")
		if len(own) != 1 || !strings.Contains(own[0].Body, "tfpr plan for `h1`") || !strings.Contains(own[0].Body, tt.reply) {
			t.Errorf("%s: tfpr's comments %+v, want the living comment with the plan and %q", tt.body, own, tt.reply)
		}
	}
}
