package githubapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/tfpr/tfpr/internal/redact"
)

// Issue is an issue tfpr keeps, such as a project's drift issue.
type Issue struct {
	Number int
	Title  string
	Body   string
	State  string // open or closed
	URL    string // its page on GitHub
}

// maxIssuePages bounds how far FindIssue reads a label's issues: 1,000
// issues, newest first, is far more than one label ever holds open.
const maxIssuePages = 10

// FindIssue finds the newest issue labelled label whose body holds marker
// (open before closed), reading at most maxIssuePages pages. Pull
// requests never match.
func (c *Client) FindIssue(ctx context.Context, label, marker string) (Issue, bool, error) {
	opts := &github.IssueListByRepoOptions{State: "all", Labels: []string{label}, ListOptions: github.ListOptions{PerPage: 100}}
	var closed *Issue
	for range maxIssuePages {
		issues, resp, err := c.gh.Issues.ListByRepo(ctx, c.owner, c.name, opts)
		if err != nil {
			return Issue{}, false, fmt.Errorf("list %q issues of %s: %w", label, c.FullName(), err)
		}
		for _, is := range issues {
			if is.IsPullRequest() || !strings.Contains(is.GetBody(), marker) {
				continue
			}
			// Only the App's own issues: anyone who can label an issue
			// could otherwise have a report land on text they wrote.
			if own, err := c.ownedBy(ctx, is.GetUser().GetLogin()); err != nil {
				return Issue{}, false, fmt.Errorf("list %q issues of %s: %w", label, c.FullName(), err)
			} else if !own {
				continue
			}
			found := toIssue(is)
			if found.State == "open" {
				return found, true, nil
			}
			if closed == nil {
				closed = &found
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.ListOptions.Page = resp.NextPage
	}
	if closed != nil {
		return *closed, true, nil
	}
	return Issue{}, false, nil
}

func toIssue(is *github.Issue) Issue {
	return Issue{Number: is.GetNumber(), Title: is.GetTitle(), Body: is.GetBody(), State: is.GetState(), URL: is.GetHTMLURL()}
}

// OpenIssue opens an issue labelled label.
func (c *Client) OpenIssue(ctx context.Context, title, label, body string) (Issue, error) {
	is, _, err := c.gh.Issues.Create(ctx, c.owner, c.name, &github.IssueRequest{
		Title: github.Ptr(redact.String(title)), Body: github.Ptr(clip(redact.String(body), MaxCommentChars)), Labels: &[]string{label},
	})
	if err != nil {
		return Issue{}, fmt.Errorf("open issue %q on %s: %w", title, c.FullName(), err)
	}
	return toIssue(is), nil
}

// EditIssue replaces an issue's title and body in place, reopening it if
// it was closed: the issue shows the latest state, not a trail of comments.
func (c *Client) EditIssue(ctx context.Context, number int, title, body string) (Issue, error) {
	is, _, err := c.gh.Issues.Edit(ctx, c.owner, c.name, number, &github.IssueRequest{
		Title: github.Ptr(redact.String(title)), Body: github.Ptr(clip(redact.String(body), MaxCommentChars)), State: github.Ptr("open"),
	})
	if err != nil {
		return Issue{}, fmt.Errorf("edit %s#%d: %w", c.FullName(), number, err)
	}
	return toIssue(is), nil
}
