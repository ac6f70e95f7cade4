package githubapp

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v75/github"

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

// ownComment is a comment tfpr's App wrote.
type ownComment struct {
	id   int64
	body string
}

// ownComments maps the marker (first line) of each comment tfpr's App wrote
// on number, among those starting with family, to it; the newest wins.
// Comments by people never count, whatever they contain.
func (c *Client) ownComments(ctx context.Context, number int, family string) (map[string]ownComment, error) {
	out := map[string]ownComment{}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxCommentPages; page++ {
		cs, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("list comments on %s#%d: %w", c.FullName(), number, err)
		}
		for _, cm := range cs {
			if cm.GetUser().GetType() != "Bot" {
				continue
			}
			first, _, _ := strings.Cut(cm.GetBody(), "\n")
			if strings.HasPrefix(first, family) {
				out[first] = ownComment{id: cm.GetID(), body: cm.GetBody()}
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// PublishLiving makes number's comments of a family (markers starting with
// family) read pages: each page edits the comment carrying its marker, or
// is posted when there is none (or a person deleted it), and comments of
// the family left over from a longer earlier round are deleted. It returns
// the ids of the pages' comments.
func (c *Client) PublishLiving(ctx context.Context, number int, family string, pages []MarkedComment) ([]int64, error) {
	have, err := c.ownComments(ctx, number, family)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(pages))
	for i, p := range pages {
		if !strings.HasPrefix(p.Body, p.Marker+"\n") || !strings.HasPrefix(p.Marker, family) {
			return ids, fmt.Errorf("comment %d of %s#%d does not start with its marker %q", i+1, c.FullName(), number, p.Marker)
		}
		old, ok := have[p.Marker]
		delete(have, p.Marker)
		if ok {
			err := c.EditComment(ctx, old.id, p.Body)
			if err == nil {
				ids[i] = old.id
				continue
			}
			if !IsNotFound(err) {
				return ids, err
			}
		}
		if ids[i], err = c.Comment(ctx, number, p.Body); err != nil {
			return ids, err
		}
	}
	for _, old := range have {
		if err := c.DeleteComment(ctx, old.id); err != nil && !IsNotFound(err) {
			return ids, err
		}
	}
	return ids, nil
}

// LivingComment returns the id and body of tfpr's comment on number whose
// first line is marker; found is false when there is none.
func (c *Client) LivingComment(ctx context.Context, number int, marker string) (id int64, body string, found bool, err error) {
	have, err := c.ownComments(ctx, number, marker)
	if err != nil {
		return 0, "", false, err
	}
	old, ok := have[marker]
	return old.id, old.body, ok, nil
}

// EditComment replaces the body of comment id.
func (c *Client) EditComment(ctx context.Context, id int64, body string) error {
	body = redact.String(body)
	if len(body) > MaxCommentChars {
		return fmt.Errorf("comment %d on %s is %d characters, over GitHub's %d", id, c.FullName(), len(body), MaxCommentChars)
	}
	if _, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.name, id, &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("edit comment %d on %s: %w", id, c.FullName(), err)
	}
	return nil
}

// DeleteComment deletes comment id.
func (c *Client) DeleteComment(ctx context.Context, id int64) error {
	if _, err := c.gh.Issues.DeleteComment(ctx, c.owner, c.name, id); err != nil {
		return fmt.Errorf("delete comment %d on %s: %w", id, c.FullName(), err)
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
		if _, err := c.gh.Issues.RemoveLabelForIssue(ctx, c.owner, c.name, number, l.Name); err != nil && !IsNotFound(err) {
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
	if !IsNotFound(err) {
		return fmt.Errorf("get label %s of %s: %w", l.Name, c.FullName(), err)
	}
	_, resp, err := c.gh.Issues.CreateLabel(ctx, c.owner, c.name, &github.Label{Name: github.Ptr(l.Name), Color: github.Ptr(l.Color), Description: github.Ptr(l.Description)})
	if err != nil && (resp == nil || resp.StatusCode != http.StatusUnprocessableEntity) { // 422: created meanwhile
		return fmt.Errorf("create label %s on %s: %w", l.Name, c.FullName(), err)
	}
	return nil
}
