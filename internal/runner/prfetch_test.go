package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/webhook"
)

// A PR's plan fetches its head and base by commit id into the PR's own
// refs; a head the forge no longer has (force-pushed away) is fetched by
// name instead, and the push that replaced it is what gets planned.
func TestPRFetchesByCommitIDAndFallsBackToRefNames(t *testing.T) {
	h := newHarness(t, Config{})
	base, head, gone := strings.Repeat("b", 40), strings.Repeat("1", 40), strings.Repeat("2", 40)
	h.ws.commit(base, "", projectFiles(projA, "v0"))
	h.ws.land(base)
	h.ws.commit(head, base, map[string]string{projA + "/input": "v1"})

	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "opened",
		PR: webhook.PullRequest{Number: 4, HeadSHA: head, BaseRef: "main", BaseSHA: base, Author: "alice"}})
	want := [][]string{{"+" + head + ":refs/pull/4/head", "+" + base + ":refs/pull/4/base"}}
	if !slices.EqualFunc(h.ws.fetches, want, slices.Equal) {
		t.Errorf("the plan fetched %q, want %q", h.ws.fetches, want)
	}
	if c := h.gh.check(t, "plan:"+projA); c.Conclusion != "success" || c.HeadSHA != head {
		t.Errorf("alpha check = %s at %s, want success at the head", c.Conclusion, c.HeadSHA)
	}

	h.ws.fetches = nil
	h.dispatch(t, webhook.PullRequestEvent{M: meta, Action: "synchronize",
		PR: webhook.PullRequest{Number: 4, HeadSHA: gone, BaseRef: "main", BaseSHA: base, Author: "alice"}})
	want = [][]string{
		{"+" + gone + ":refs/pull/4/head", "+" + base + ":refs/pull/4/base"},
		{"+refs/pull/4/head:refs/pull/4/head", "+refs/heads/main:refs/heads/main"},
	}
	if !slices.EqualFunc(h.ws.fetches, want, slices.Equal) {
		t.Errorf("the plan of a vanished head fetched %q, want %q", h.ws.fetches, want)
	}
	if len(h.tf.plans) != 1 {
		t.Errorf("terraform planned %q, want only the first head: the vanished one is skipped", h.tf.plans)
	}
	if l := h.logs.lines("PR head no longer exists; skipping"); len(l) != 1 {
		t.Errorf("the vanished head was not skipped: %d log lines say so", len(l))
	}
}
