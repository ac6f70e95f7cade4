package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// gitRequests lists the git requests the fake GitHub answered so far.
func (h *harness) gitRequests() []string {
	var out []string
	for _, r := range h.gh.Requests() {
		if strings.Contains(r.Path, ".git/") {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// completedChecks counts the completed check runs on sha.
func (h *harness) completedChecks(sha string) int {
	n := 0
	for _, cr := range h.repo.CheckRuns() {
		if cr.HeadSHA == sha && cr.Status == "completed" {
			n++
		}
	}
	return n
}

// A PR on a repository tfpr has fetched before costs one request: a fetch
// of its head and base by id, with no capability advertisement and no ref
// listing; planning the same head again asks the server for nothing.
func TestSecondPlanOfARepoFetchesTheNewHeadOnly(t *testing.T) {
	h := start(t, nil)
	seed(t, h.repo)
	docsPR := func(pr int) string {
		branch := fmt.Sprintf("docs-%d", pr)
		head := h.repo.Commit(t, branch, map[string]string{"README.md": "# " + branch + "\n"}, "docs")
		h.repo.OpenPR(t, pr, branch, "dev-alice")
		h.deliver("pull_request", h.repo.PullRequestPayload(t, pr, "opened"))
		eventually(t, time.Minute, fmt.Sprintf("the check of #%d", pr), func() bool { return h.completedChecks(head) > 0 })
		return head
	}
	docsPR(1)

	before := len(h.gitRequests())
	head := docsPR(2)
	asked := h.gitRequests()[before:]
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "POST ") {
		t.Errorf("the second PR's plan sent %d git requests, want one fetch:\n%s",
			len(asked), strings.Join(asked, "\n"))
	}

	h.repo.SetPermission("dev-alice", "write")
	before, checks := len(h.gitRequests()), h.completedChecks(head)
	h.deliver("issue_comment", h.repo.CommentPayload(t, 2, "dev-alice", "tfpr plan"))
	eventually(t, time.Minute, "the re-plan's check", func() bool { return h.completedChecks(head) > checks })
	if asked := h.gitRequests()[before:]; len(asked) != 0 {
		t.Errorf("re-planning a head tfpr holds sent git requests:\n%s", strings.Join(asked, "\n"))
	}
}
