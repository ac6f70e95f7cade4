package githubtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v88/github"
)

// fixture is a fake with acme/infra on installation 7 and PR #1 open from
// branch feature.
func fixture(t *testing.T) (*Server, *Repo, *github.Client) {
	t.Helper()
	s := New(t, Options{})
	r := s.AddRepo(t, "acme", "infra", 7)
	r.Commit(t, "feature", map[string]string{"envs/dev/main.tf": "resource \"terraform_data\" \"x\" {}\n"}, "add dev")
	r.OpenPR(t, 1, "feature", "alice")
	return s, r, appClient(t, s, 7)
}

func TestCommentBodyLimit(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"at the limit", strings.Repeat("a", 65536), http.StatusCreated},
		{"multi-byte characters count once", strings.Repeat("é", 65536), http.StatusCreated},
		{"one over the limit", strings.Repeat("a", 65537), http.StatusUnprocessableEntity},
		{"empty", "", http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.Comments(1))
			c, resp, err := gh.Issues.CreateComment(ctx, "acme", "infra", 1, &github.IssueComment{Body: github.Ptr(tc.body)})
			if got := statusOf(t, resp, err); got != tc.status {
				t.Fatalf("status = %d, want %d", got, tc.status)
			}
			after := r.Comments(1)
			if tc.status != http.StatusCreated {
				if len(after) != before {
					t.Fatalf("refused comment was stored")
				}
				return
			}
			last := after[len(after)-1]
			if last.ID != c.GetID() || last.Body != tc.body || last.User != "tfpr[bot]" || c.GetUser().GetType() != "Bot" {
				t.Fatalf("stored %+v (user %q), response id %d", last.ID, last.User, c.GetID())
			}
		})
	}

	t.Run("too long names the field like GitHub", func(t *testing.T) {
		_, _, err := gh.Issues.CreateComment(ctx, "acme", "infra", 1, &github.IssueComment{Body: github.Ptr(strings.Repeat("a", 65537))})
		var ge *github.ErrorResponse
		if !errors.As(err, &ge) || len(ge.Errors) != 1 || ge.Errors[0].Field != "body" || ge.Errors[0].Message != "body is too long (maximum is 65536 characters)" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommentEditListDelete(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	ctx := context.Background()
	var ids []int64
	for i := range 35 {
		c, _, err := gh.Issues.CreateComment(ctx, "acme", "infra", 1, &github.IssueComment{Body: github.Ptr(fmt.Sprintf("c%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.GetID())
	}

	page1, resp, err := gh.Issues.ListComments(ctx, "acme", "infra", 1, nil)
	if err != nil || len(page1) != 30 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Fatalf("first page: %d comments, next %d, last %d, err %v; want 30, 2, 2", len(page1), resp.NextPage, resp.LastPage, err)
	}
	page2, resp, err := gh.Issues.ListComments(ctx, "acme", "infra", 1, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{Page: 2}})
	if err != nil || len(page2) != 5 || resp.NextPage != 0 || page2[4].GetBody() != "c34" {
		t.Fatalf("second page: %d comments, next %d, err %v", len(page2), resp.NextPage, err)
	}

	_, resp, err = gh.Issues.EditComment(ctx, "acme", "infra", ids[0], &github.IssueComment{Body: github.Ptr(strings.Repeat("x", 65537))})
	if got := statusOf(t, resp, err); got != http.StatusUnprocessableEntity {
		t.Fatalf("edit over the limit: %d, want 422", got)
	}
	if _, _, err := gh.Issues.EditComment(ctx, "acme", "infra", ids[0], &github.IssueComment{Body: github.Ptr("edited")}); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.Issues.DeleteComment(ctx, "acme", "infra", ids[1]); err != nil {
		t.Fatal(err)
	}
	resp, err = gh.Issues.DeleteComment(ctx, "acme", "infra", ids[1])
	if got := statusOf(t, resp, err); got != http.StatusNotFound {
		t.Fatalf("second delete: %d, want 404", got)
	}
	cs := r.Comments(1)
	if len(cs) != 34 || cs[0].Body != "edited" || cs[1].ID != ids[2] {
		t.Fatalf("after edit+delete: %d comments, first %q", len(cs), cs[0].Body)
	}

	_, resp, err = gh.Issues.CreateComment(ctx, "acme", "infra", 99, &github.IssueComment{Body: github.Ptr("x")})
	if got := statusOf(t, resp, err); got != http.StatusNotFound {
		t.Fatalf("comment on a missing PR: %d, want 404", got)
	}
}

func annotationsN(n int) []*github.CheckRunAnnotation {
	var as []*github.CheckRunAnnotation
	for i := range n {
		as = append(as, &github.CheckRunAnnotation{
			Path: github.Ptr("envs/dev/main.tf"), StartLine: github.Ptr(i + 1), EndLine: github.Ptr(i + 1),
			AnnotationLevel: github.Ptr("warning"), Message: github.Ptr(fmt.Sprintf("finding %d", i)),
		})
	}
	return as
}

func TestCheckRunRules(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	ctx := context.Background()
	head := r.PR(1).HeadSHA
	out := func(n int) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Annotations: annotationsN(n)}
	}
	tests := []struct {
		name   string
		opts   github.CreateCheckRunOptions
		status int
	}{
		{"50 annotations", github.CreateCheckRunOptions{Name: "tfpr/plan", HeadSHA: head, Output: out(50)}, http.StatusCreated},
		{"51 annotations", github.CreateCheckRunOptions{Name: "tfpr/plan", HeadSHA: head, Output: out(51)}, http.StatusUnprocessableEntity},
		{"summary at 65535", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr(strings.Repeat("s", 65535))}}, http.StatusCreated},
		{"summary over 65535", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr(strings.Repeat("s", 65536))}}, http.StatusUnprocessableEntity},
		{"text over 65535", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Text: github.Ptr(strings.Repeat("x", 65536))}}, http.StatusUnprocessableEntity},
		{"output without title", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Output: &github.CheckRunOutput{Summary: github.Ptr("s")}}, http.StatusUnprocessableEntity},
		{"no name", github.CreateCheckRunOptions{HeadSHA: head}, http.StatusUnprocessableEntity},
		{"completed without conclusion", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Status: github.Ptr("completed")}, http.StatusUnprocessableEntity},
		{"unknown conclusion", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Conclusion: github.Ptr("passed")}, http.StatusUnprocessableEntity},
		{"commit not in the repo", github.CreateCheckRunOptions{Name: "n", HeadSHA: strings.Repeat("ab", 20)}, http.StatusUnprocessableEntity},
		{"branch name instead of SHA", github.CreateCheckRunOptions{Name: "n", HeadSHA: "feature"}, http.StatusUnprocessableEntity},
		{"annotation without message", github.CreateCheckRunOptions{Name: "n", HeadSHA: head, Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Annotations: []*github.CheckRunAnnotation{{Path: github.Ptr("a.tf"), StartLine: github.Ptr(1), EndLine: github.Ptr(1), AnnotationLevel: github.Ptr("notice")}}}}, http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.CheckRuns())
			_, resp, err := gh.Checks.CreateCheckRun(ctx, "acme", "infra", tc.opts)
			if got := statusOf(t, resp, err); got != tc.status {
				t.Fatalf("status = %d, want %d (err %v)", got, tc.status, err)
			}
			if tc.status != http.StatusCreated && len(r.CheckRuns()) != before {
				t.Fatal("refused check run was stored")
			}
		})
	}
}

func TestCheckRunLifecycle(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	ctx := context.Background()
	head := r.PR(1).HeadSHA

	cr, _, err := gh.Checks.CreateCheckRun(ctx, "acme", "infra", github.CreateCheckRunOptions{
		Name: "tfpr/plan", HeadSHA: head, ExternalID: github.Ptr("job-1"), Status: github.Ptr("in_progress"),
		Output: &github.CheckRunOutput{Title: github.Ptr("Planning"), Summary: github.Ptr("running"), Annotations: annotationsN(50)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cr.GetStatus() != "in_progress" || len(cr.PullRequests) != 1 || cr.PullRequests[0].GetNumber() != 1 {
		t.Fatalf("created run: status %q, %d pull requests", cr.GetStatus(), len(cr.PullRequests))
	}
	_, resp, err := gh.Checks.UpdateCheckRun(ctx, "acme", "infra", cr.GetID(), github.UpdateCheckRunOptions{Status: github.Ptr("completed"), Conclusion: github.Ptr("success")})
	if got := statusOf(t, resp, err); got != http.StatusUnprocessableEntity {
		t.Fatalf("update without name: %d, want 422 (go-github sends name \"\")", got)
	}
	_, resp, err = gh.Checks.UpdateCheckRun(ctx, "acme", "infra", cr.GetID(), github.UpdateCheckRunOptions{Name: "tfpr/plan", Status: github.Ptr("completed")})
	if got := statusOf(t, resp, err); got != http.StatusUnprocessableEntity {
		t.Fatalf("complete without conclusion: %d, want 422", got)
	}
	upd, _, err := gh.Checks.UpdateCheckRun(ctx, "acme", "infra", cr.GetID(), github.UpdateCheckRunOptions{
		Name: "tfpr/plan", Conclusion: github.Ptr("failure"),
		Output: &github.CheckRunOutput{Title: github.Ptr("1 to add"), Summary: github.Ptr("plan"), Text: github.Ptr("details"), Annotations: annotationsN(3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetStatus() != "completed" || upd.GetConclusion() != "failure" || upd.GetOutput().GetAnnotationsCount() != 53 || upd.CompletedAt == nil {
		t.Fatalf("updated run: %s/%s, %d annotations", upd.GetStatus(), upd.GetConclusion(), upd.GetOutput().GetAnnotationsCount())
	}
	runs := r.CheckRuns()
	want := CheckRun{ID: cr.GetID(), Name: "tfpr/plan", HeadSHA: head, Status: "completed", Conclusion: "failure", ExternalID: "job-1", Title: "1 to add", Summary: "plan", Text: "details"}
	got := runs[0]
	got.Annotations = nil
	if len(runs) != 1 || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) || len(runs[0].Annotations) != 53 || runs[0].Annotations[52].Message != "finding 2" {
		t.Fatalf("CheckRuns() = %+v, want %+v with 53 annotations", got, want)
	}

	// A second run of the same name hides the first unless filter=all.
	if _, _, err := gh.Checks.CreateCheckRun(ctx, "acme", "infra", github.CreateCheckRunOptions{Name: "tfpr/plan", HeadSHA: head}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref, filter string
		want        int
	}{{head, "", 1}, {head, "all", 2}, {"feature", "all", 2}, {r.Head(t, "main"), "all", 0}} {
		res, _, err := gh.Checks.ListCheckRunsForRef(ctx, "acme", "infra", tc.ref, &github.ListCheckRunsOptions{Filter: github.Ptr(tc.filter)})
		if err != nil || res.GetTotal() != tc.want || len(res.CheckRuns) != tc.want {
			t.Fatalf("list %s filter %q: %d runs, err %v; want %d", tc.ref, tc.filter, res.GetTotal(), err, tc.want)
		}
	}
}

func TestPullsAndPermissions(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	ctx := context.Background()
	r.Commit(t, "other", map[string]string{"x.tf": "# x\n"}, "x")
	r.OpenPR(t, 2, "other", "bob")
	oldMain := r.Head(t, "main")
	head := r.PR(1).HeadSHA
	merge := r.Merge(t, 1, "carol")

	pr, _, err := gh.PullRequests.Get(ctx, "acme", "infra", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.GetMerged() || pr.GetMergeCommitSHA() != merge || pr.GetMergedBy().GetLogin() != "carol" || pr.GetState() != "closed" ||
		pr.GetHead().GetSHA() != head || pr.GetBase().GetSHA() != oldMain || pr.GetBase().GetRef() != "main" || pr.GetUser().GetLogin() != "alice" {
		t.Fatalf("merged PR as served: %+v", pr)
	}
	open, _, err := gh.PullRequests.List(ctx, "acme", "infra", &github.PullRequestListOptions{State: "open"})
	if err != nil || len(open) != 1 || open[0].GetNumber() != 2 {
		t.Fatalf("open PRs: %d, err %v; want only #2", len(open), err)
	}
	for sha, want := range map[string]int{merge: 1, head: 1, r.PR(2).HeadSHA: 2} {
		prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, "acme", "infra", sha, nil)
		if err != nil || len(prs) != 1 || prs[0].GetNumber() != want {
			t.Fatalf("PRs with %s: %d, err %v; want #%d", sha, len(prs), err, want)
		}
	}
	if _, resp, err := gh.PullRequests.Get(ctx, "acme", "infra", 3); statusOf(t, resp, err) != http.StatusNotFound {
		t.Fatal("missing PR did not answer 404")
	}

	r.SetPermission("alice", "admin")
	r.SetPermission("dave", "maintain")
	r.SetPermission("eve", "none")
	for user, want := range map[string]string{"alice": "admin", "dave": "write", "eve": "none", "stranger": "read"} {
		p, _, err := gh.Repositories.GetPermissionLevel(ctx, "acme", "infra", user)
		if err != nil || p.GetPermission() != want || p.GetUser().GetLogin() != user {
			t.Fatalf("permission of %s = %q, err %v; want %q", user, p.GetPermission(), err, want)
		}
	}
}

func TestIssues(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	ctx := context.Background()
	is, _, err := gh.Issues.Create(ctx, "acme", "infra", &github.IssueRequest{Title: github.Ptr("Drift in dev"), Body: github.Ptr("details"), Labels: &[]string{"tfpr", "drift"}})
	if err != nil {
		t.Fatal(err)
	}
	if is.GetNumber() != 2 {
		t.Fatalf("new issue number = %d, want 2 (PR #1 takes 1)", is.GetNumber())
	}
	_, resp, err := gh.Issues.Create(ctx, "acme", "infra", &github.IssueRequest{Body: github.Ptr("no title")})
	if statusOf(t, resp, err) != http.StatusUnprocessableEntity {
		t.Fatal("issue without title was accepted")
	}
	if _, _, err := gh.Issues.AddLabelsToIssue(ctx, "acme", "infra", 2, []string{"urgent", "drift"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Issues.CreateComment(ctx, "acme", "infra", 2, &github.IssueComment{Body: github.Ptr("still drifting")}); err != nil {
		t.Fatal(err)
	}

	list := func(opts *github.IssueListByRepoOptions) []int {
		t.Helper()
		got, _, err := gh.Issues.ListByRepo(ctx, "acme", "infra", opts)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, i := range got {
			nums = append(nums, i.GetNumber())
		}
		return nums
	}
	if got := list(&github.IssueListByRepoOptions{Labels: []string{"drift", "urgent"}}); fmt.Sprint(got) != "[2]" {
		t.Fatalf("issues labelled drift+urgent = %v, want [2]", got)
	}
	// GitHub lists pull requests among issues.
	if got := list(nil); fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("open issues = %v, want [2 1]", got)
	}
	if _, _, err := gh.Issues.Edit(ctx, "acme", "infra", 2, &github.IssueRequest{State: github.Ptr("closed")}); err != nil {
		t.Fatal(err)
	}
	if got := list(&github.IssueListByRepoOptions{State: "closed"}); fmt.Sprint(got) != "[2]" {
		t.Fatalf("closed issues = %v, want [2]", got)
	}
	want := Issue{Number: 2, Title: "Drift in dev", Body: "details", State: "closed", Labels: []string{"tfpr", "drift", "urgent"}}
	got := r.Issues()
	if len(got) != 1 || fmt.Sprint(got[0].Labels) != fmt.Sprint(want.Labels) || got[0].State != want.State || got[0].Title != want.Title ||
		len(got[0].Comments) != 1 || got[0].Comments[0].Body != "still drifting" {
		t.Fatalf("Issues() = %+v, want %+v with one comment", got, want)
	}
}

func TestUnknownRouteAndRequestLog(t *testing.T) {
	t.Parallel()
	s, _, gh := fixture(t)
	req, err := gh.NewRequest(context.Background(), "GET", "repos/acme/infra/no-such-thing", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := gh.Do(req, nil)
	if statusOf(t, resp, err) != http.StatusNotFound {
		t.Fatal("unknown route did not answer 404")
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last != (Request{Method: "GET", Path: "/api/v3/repos/acme/infra/no-such-thing", Status: 404}) {
		t.Fatalf("last request = %+v", last)
	}
}

func TestConcurrentComments(t *testing.T) {
	t.Parallel()
	_, r, gh := fixture(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			_, _, err := gh.Issues.CreateComment(context.Background(), "acme", "infra", 1, &github.IssueComment{Body: github.Ptr(fmt.Sprint(i))})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	for _, c := range r.Comments(1) {
		seen[c.ID] = true
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct comments stored, want 20", len(seen))
	}
}
