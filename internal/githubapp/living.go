package githubapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/tfpr/tfpr/internal/redact"
)

// maxCommentPages bounds how far tfpr reads a PR's comments looking for its
// own: 3,000 comments, far past any real review, costs at most 30 requests.
const maxCommentPages = 30

// MarkedComment is a comment tfpr keeps up to date: Marker, a hidden HTML
// comment, is the first line of Body and names it for later rounds.
type MarkedComment struct {
	Marker string
	Body   string
}

// OwnComment is a comment tfpr's App wrote, with its first line (its
// marker, for a living comment).
type OwnComment struct {
	ID     int64
	Marker string
	Body   string
}

// ErrNotFound is wrapped by EditComment and DeleteComment when the comment
// is gone (a person deleted it).
var ErrNotFound = errors.New("not found on GitHub")

// OwnComments lists, oldest first, the comments tfpr's App wrote on number
// whose first line starts with prefix. Comments by people never count,
// whatever they contain.
func (c *Client) OwnComments(ctx context.Context, number int, prefix string) ([]OwnComment, error) {
	var out []OwnComment
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxCommentPages; page++ {
		cs, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("list comments on %s#%d: %w", c.FullName(), number, err)
		}
		for _, cm := range cs {
			if own, err := c.ownedBy(ctx, cm.GetUser().GetLogin()); err != nil {
				return nil, fmt.Errorf("list comments on %s#%d: %w", c.FullName(), number, err)
			} else if !own {
				continue
			}
			first, _, _ := strings.Cut(cm.GetBody(), "\n")
			if strings.HasPrefix(first, prefix) {
				out = append(out, OwnComment{ID: cm.GetID(), Marker: first, Body: cm.GetBody()})
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// EditComment replaces the body of comment id.
func (c *Client) EditComment(ctx context.Context, id int64, body string) error {
	body = redact.String(body)
	if len(body) > MaxCommentChars {
		return fmt.Errorf("comment %d on %s is %d characters, over GitHub's %d", id, c.FullName(), len(body), MaxCommentChars)
	}
	if _, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.name, id, &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("edit comment %d on %s: %w", id, c.FullName(), notFound(err))
	}
	return nil
}

// DeleteComment deletes comment id.
func (c *Client) DeleteComment(ctx context.Context, id int64) error {
	if _, err := c.gh.Issues.DeleteComment(ctx, c.owner, c.name, id); err != nil {
		return fmt.Errorf("delete comment %d on %s: %w", id, c.FullName(), notFound(err))
	}
	return nil
}

// Reaction is an emoji reaction on a comment.
type Reaction string

const (
	ReactionSeen     Reaction = "eyes"     // the command is being carried out
	ReactionDone     Reaction = "+1"       // the command was carried out
	ReactionRefused  Reaction = "-1"       // the command was refused
	ReactionConfused Reaction = "confused" // not a command tfpr knows
	ReactionRocket   Reaction = "rocket"   // an apply was released
)

// React adds a reaction to comment id (an issue or PR comment).
func (c *Client) React(ctx context.Context, id int64, r Reaction) error {
	if _, _, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, c.owner, c.name, id, string(r)); err != nil {
		return fmt.Errorf("react %s to comment %d on %s: %w", r, id, c.FullName(), err)
	}
	return nil
}

// Label is a repository label, with the colour and description tfpr gives
// it when it creates it.
type Label struct {
	Name, Color, Description string
}

// SyncLabels makes the labels of PR (or issue) number among managed exactly
// want, creating missing repository labels with their colour first. Other
// labels are left alone.
func (c *Client) SyncLabels(ctx context.Context, number int, want, managed []Label) error {
	cur, _, err := c.gh.Issues.ListLabelsByIssue(ctx, c.owner, c.name, number, &github.ListOptions{PerPage: 100})
	if err != nil {
		return fmt.Errorf("list labels of %s#%d: %w", c.FullName(), number, err)
	}
	has := map[string]bool{}
	for _, l := range cur {
		has[strings.ToLower(l.GetName())] = true
	}
	wanted := map[string]bool{}
	var add []string
	for _, l := range want {
		wanted[strings.ToLower(l.Name)] = true
		if has[strings.ToLower(l.Name)] {
			continue
		}
		if err := c.ensureLabel(ctx, l); err != nil {
			return err
		}
		add = append(add, l.Name)
	}
	if len(add) > 0 {
		if _, _, err := c.gh.Issues.AddLabelsToIssue(ctx, c.owner, c.name, number, add); err != nil {
			return fmt.Errorf("label %s#%d %v: %w", c.FullName(), number, add, err)
		}
	}
	for _, l := range managed {
		if !has[strings.ToLower(l.Name)] || wanted[strings.ToLower(l.Name)] {
			continue
		}
		if _, err := c.gh.Issues.RemoveLabelForIssue(ctx, c.owner, c.name, number, l.Name); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove label %s from %s#%d: %w", l.Name, c.FullName(), number, err)
		}
	}
	return nil
}

// ensureLabel creates label l in the repository unless it exists (someone
// may have recoloured it: theirs stays).
func (c *Client) ensureLabel(ctx context.Context, l Label) error {
	_, _, err := c.gh.Issues.GetLabel(ctx, c.owner, c.name, l.Name)
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("get label %s of %s: %w", l.Name, c.FullName(), err)
	}
	_, resp, err := c.gh.Issues.CreateLabel(ctx, c.owner, c.name, &github.Label{Name: github.Ptr(l.Name), Color: github.Ptr(l.Color), Description: github.Ptr(l.Description)})
	if err != nil && (resp == nil || resp.StatusCode != http.StatusUnprocessableEntity) { // 422: created meanwhile
		return fmt.Errorf("create label %s on %s: %w", l.Name, c.FullName(), err)
	}
	return nil
}

// isNotFound reports whether err is GitHub's 404.
func isNotFound(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// notFound turns GitHub's 404 into ErrNotFound, keeping GitHub's message.
func notFound(err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
