package githubapp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/tfpr/tfpr/internal/redact"
)

// GitHub's limits, enforced here so a big plan degrades instead of failing.
const (
	MaxCommentChars      = 65536
	MaxCheckOutputChars  = 65535
	MaxAnnotationsPerReq = 50
)

// Annotation is a check-run annotation at a file line.
type Annotation struct {
	Path               string
	StartLine, EndLine int
	Level              string // notice, warning or failure
	Title, Message     string
}

// CheckStatus is where a check run is, as GitHub names it.
type CheckStatus string

// Check run statuses.
const (
	CheckQueued     CheckStatus = "queued"
	CheckInProgress CheckStatus = "in_progress"
	CheckCompleted  CheckStatus = "completed"
)

// Conclusion is how a completed check run ended, as GitHub names it.
type Conclusion string

// Check run conclusions tfpr uses.
const (
	ConclusionSuccess        Conclusion = "success"
	ConclusionFailure        Conclusion = "failure"
	ConclusionNeutral        Conclusion = "neutral"
	ConclusionActionRequired Conclusion = "action_required"
	ConclusionCancelled      Conclusion = "cancelled"
	ConclusionSkipped        Conclusion = "skipped"
)

// CheckRun is what tfpr reports for one project at one commit.
type CheckRun struct {
	Name        string
	HeadSHA     string
	ExternalID  string
	Status      CheckStatus
	Conclusion  Conclusion
	Title       string
	Summary     string
	Text        string
	Annotations []Annotation
	// DetailsURL is where the check's "Details" link goes: the run on
	// tfpr's runs page (TFPR_PUBLIC_URL); empty leaves GitHub's default.
	DetailsURL string
}

// Comment posts a PR (issue) comment and returns its id.
func (c *Client) Comment(ctx context.Context, number int, body string) (int64, error) {
	body = redact.String(body)
	if len(body) > MaxCommentChars {
		return 0, fmt.Errorf("comment on #%d is %d characters, over GitHub's %d", number, len(body), MaxCommentChars)
	}
	cm, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.name, number, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return 0, fmt.Errorf("comment on %s#%d: %w", c.FullName(), number, err)
	}
	return cm.GetID(), nil
}

// UserComment is a comment someone wrote on a PR or issue.
type UserComment struct {
	ID     int64
	Author string
	Body   string
}

// RecentComments returns comments on PR (issue) number updated since then,
// oldest first. One page at most: when more match, the newest page, so a
// flood of comments costs two requests and no more.
func (c *Client) RecentComments(ctx context.Context, number int, since time.Time) ([]UserComment, error) {
	opts := &github.IssueListCommentsOptions{Since: &since, ListOptions: github.ListOptions{PerPage: 100}}
	cs, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.name, number, opts)
	if err == nil && resp.LastPage > 1 {
		opts.Page = resp.LastPage
		cs, _, err = c.gh.Issues.ListComments(ctx, c.owner, c.name, number, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("list comments on %s#%d: %w", c.FullName(), number, err)
	}
	out := make([]UserComment, 0, len(cs))
	for _, cm := range cs {
		out = append(out, UserComment{ID: cm.GetID(), Author: cm.GetUser().GetLogin(), Body: cm.GetBody()})
	}
	return out, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const note = "\n\n… (truncated to fit GitHub's limit)"
	return s[:n-len(note)] + note
}

func output(cr CheckRun, ann []Annotation) *github.CheckRunOutput {
	out := &github.CheckRunOutput{
		Title:   github.Ptr(redact.String(cr.Title)),
		Summary: github.Ptr(clip(redact.String(cr.Summary), MaxCheckOutputChars)),
	}
	if cr.Text != "" {
		out.Text = github.Ptr(clip(redact.String(cr.Text), MaxCheckOutputChars))
	}
	for _, a := range ann {
		end := a.EndLine
		if end < a.StartLine {
			end = a.StartLine
		}
		line := a.StartLine
		if line < 1 {
			line, end = 1, 1
		}
		out.Annotations = append(out.Annotations, &github.CheckRunAnnotation{
			Path: github.Ptr(a.Path), StartLine: github.Ptr(line), EndLine: github.Ptr(end),
			AnnotationLevel: github.Ptr(a.Level), Title: github.Ptr(redact.String(a.Title)), Message: github.Ptr(redact.String(a.Message)),
		})
	}
	return out
}

// CreateCheckRun creates a check run; annotations beyond GitHub's 50 per
// request are sent in follow-up updates so none is lost.
func (c *Client) CreateCheckRun(ctx context.Context, cr CheckRun) (int64, error) {
	first, rest := batch(cr.Annotations)
	opts := github.CreateCheckRunOptions{
		Name: cr.Name, HeadSHA: cr.HeadSHA, Status: github.Ptr(string(cr.Status)),
		Output: output(cr, first),
	}
	if cr.ExternalID != "" {
		opts.ExternalID = github.Ptr(cr.ExternalID)
	}
	if cr.DetailsURL != "" {
		opts.DetailsURL = github.Ptr(cr.DetailsURL)
	}
	if cr.Status == CheckCompleted {
		opts.Conclusion = github.Ptr(string(cr.Conclusion))
		opts.CompletedAt = &github.Timestamp{Time: time.Now()}
	}
	run, _, err := c.gh.Checks.CreateCheckRun(ctx, c.owner, c.name, opts)
	if err != nil {
		return 0, fmt.Errorf("create check run %q on %s@%s: %w", cr.Name, c.FullName(), short(cr.HeadSHA), err)
	}
	if err := c.moreAnnotations(ctx, run.GetID(), cr, rest); err != nil {
		return run.GetID(), err
	}
	return run.GetID(), nil
}

// UpdateCheckRun replaces a check run's status, conclusion and output.
func (c *Client) UpdateCheckRun(ctx context.Context, id int64, cr CheckRun) error {
	first, rest := batch(cr.Annotations)
	opts := github.UpdateCheckRunOptions{Name: cr.Name, Status: github.Ptr(string(cr.Status)), Output: output(cr, first)}
	if cr.DetailsURL != "" {
		opts.DetailsURL = github.Ptr(cr.DetailsURL)
	}
	if cr.Status == CheckCompleted {
		opts.Conclusion = github.Ptr(string(cr.Conclusion))
		opts.CompletedAt = &github.Timestamp{Time: time.Now()}
	}
	if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, c.owner, c.name, id, opts); err != nil {
		return fmt.Errorf("update check run %d on %s: %w", id, c.FullName(), err)
	}
	return c.moreAnnotations(ctx, id, cr, rest)
}

func (c *Client) moreAnnotations(ctx context.Context, id int64, cr CheckRun, rest []Annotation) error {
	for len(rest) > 0 {
		var next []Annotation
		next, rest = batch(rest)
		opts := github.UpdateCheckRunOptions{Name: cr.Name, Output: output(cr, next)}
		if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, c.owner, c.name, id, opts); err != nil {
			return fmt.Errorf("add annotations to check run %d on %s: %w", id, c.FullName(), err)
		}
	}
	return nil
}

func batch(a []Annotation) (first, rest []Annotation) {
	if len(a) <= MaxAnnotationsPerReq {
		return a, nil
	}
	return a[:MaxAnnotationsPerReq], a[MaxAnnotationsPerReq:]
}

// PR is what tfpr needs to know about a pull request.
type PR struct {
	Number         int
	State          string
	HeadSHA        string
	HeadRef        string
	BaseSHA        string
	BaseRef        string
	Author         string
	Fork           bool
	Merged         bool
	MergeCommitSHA string
	MergedBy       string
}

func toPR(p *github.PullRequest, repo string) PR {
	return PR{
		Number: p.GetNumber(), State: p.GetState(),
		HeadSHA: p.GetHead().GetSHA(), HeadRef: p.GetHead().GetRef(),
		BaseSHA: p.GetBase().GetSHA(), BaseRef: p.GetBase().GetRef(),
		Author: p.GetUser().GetLogin(),
		// A deleted head repository counts as a fork, as in the webhook:
		// its code cannot be attributed to this repository.
		Fork: p.GetHead().GetRepo() == nil || p.GetHead().GetRepo().GetID() != p.GetBase().GetRepo().GetID() ||
			!strings.EqualFold(p.GetHead().GetRepo().GetFullName(), repo),
		Merged: p.GetMerged(), MergeCommitSHA: p.GetMergeCommitSHA(), MergedBy: p.GetMergedBy().GetLogin(),
	}
}

// PullRequest fetches one PR.
func (c *Client) PullRequest(ctx context.Context, number int) (PR, error) {
	p, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.name, number)
	if err != nil {
		return PR{}, fmt.Errorf("get %s#%d: %w", c.FullName(), number, err)
	}
	return toPR(p, c.FullName()), nil
}

// OpenPullRequests lists every open PR, following pagination.
func (c *Client) OpenPullRequests(ctx context.Context, base string) ([]PR, error) {
	opts := &github.PullRequestListOptions{State: "open", Base: base, ListOptions: github.ListOptions{PerPage: 100}}
	var out []PR
	for {
		ps, resp, err := c.gh.PullRequests.List(ctx, c.owner, c.name, opts)
		if err != nil {
			return nil, fmt.Errorf("list open PRs of %s: %w", c.FullName(), err)
		}
		for _, p := range ps {
			out = append(out, toPR(p, c.FullName()))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// MergedPullRequest returns the merged PR that produced commit sha, if any.
func (c *Client) MergedPullRequest(ctx context.Context, sha string) (PR, bool, error) {
	ps, _, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, c.owner, c.name, sha, nil)
	if err != nil {
		return PR{}, false, fmt.Errorf("PRs of commit %s in %s: %w", short(sha), c.FullName(), err)
	}
	for _, p := range ps {
		if p.GetMerged() || p.GetMergeCommitSHA() == sha {
			return toPR(p, c.FullName()), true, nil
		}
	}
	return PR{}, false, nil
}

// Permission returns a user's permission on the repository: admin, maintain,
// write, triage, read or none.
func (c *Client) Permission(ctx context.Context, user string) (string, error) {
	p, resp, err := c.gh.Repositories.GetPermissionLevel(ctx, c.owner, c.name, user)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return "none", nil
	}
	if err != nil {
		return "", fmt.Errorf("permission of %s on %s: %w", user, c.FullName(), err)
	}
	if rn := p.GetRoleName(); rn == "maintain" || rn == "triage" {
		return rn, nil
	}
	return p.GetPermission(), nil
}

// TeamMember reports whether user is an active member of org/team.
func (c *Client) TeamMember(ctx context.Context, orgTeam, user string) (bool, error) {
	org, team, ok := strings.Cut(orgTeam, "/")
	if !ok {
		return false, fmt.Errorf("team %q is not org/slug", orgTeam)
	}
	m, resp, err := c.gh.Teams.GetTeamMembershipBySlug(ctx, org, team, user)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s: %w", user, orgTeam, err)
	}
	return m.GetState() == "active", nil
}

// EnsureIssue finds the open issue titled title with label, commenting body
// on it, or opens one: one issue per failing project, not one per failure.
func (c *Client) EnsureIssue(ctx context.Context, title, label, body string) (int, error) {
	title = redact.String(title)
	issues, _, err := c.gh.Issues.ListByRepo(ctx, c.owner, c.name, &github.IssueListByRepoOptions{
		State: "open", Labels: []string{label}, ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return 0, fmt.Errorf("list %q issues of %s: %w", label, c.FullName(), err)
	}
	for _, is := range issues {
		if is.GetTitle() == title && !is.IsPullRequest() {
			if _, err := c.Comment(ctx, is.GetNumber(), body); err != nil {
				return 0, err
			}
			return is.GetNumber(), nil
		}
	}
	is, _, err := c.gh.Issues.Create(ctx, c.owner, c.name, &github.IssueRequest{
		Title: github.Ptr(title), Body: github.Ptr(clip(redact.String(body), MaxCommentChars)), Labels: &[]string{label},
	})
	if err != nil {
		return 0, fmt.Errorf("open issue %q on %s: %w", title, c.FullName(), err)
	}
	return is.GetNumber(), nil
}

// CloseIssue closes an issue with a last comment.
func (c *Client) CloseIssue(ctx context.Context, number int, body string) error {
	if body != "" {
		if _, err := c.Comment(ctx, number, body); err != nil {
			return err
		}
	}
	if _, _, err := c.gh.Issues.Edit(ctx, c.owner, c.name, number, &github.IssueRequest{State: github.Ptr("closed")}); err != nil {
		return fmt.Errorf("close %s#%d: %w", c.FullName(), number, err)
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
