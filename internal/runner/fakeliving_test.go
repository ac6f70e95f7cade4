package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
)

// The fake's side of living comments, labels, reactions and check-run
// updates: plain records, so the runner's own decisions are what is tested.

func (g *fakeGitHub) UpdateCheckRun(_ context.Context, id int64, cr githubapp.CheckRun) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if id < 1 || int(id) > len(g.checks) {
		return fmt.Errorf("check run %d: %w", id, githubapp.ErrNotFound)
	}
	g.checks[id-1] = cr
	return nil
}

func (g *fakeGitHub) OwnComments(_ context.Context, number int, prefix string) ([]githubapp.OwnComment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []githubapp.OwnComment
	for _, c := range g.comments {
		first, _, _ := strings.Cut(c.Body, "\n")
		if c.Number == number && !c.Person && (!c.Deleted || g.staleList) && strings.HasPrefix(first, prefix) {
			out = append(out, githubapp.OwnComment{ID: c.ID, Marker: first, Body: c.Body})
		}
	}
	return out, nil
}

// comment returns comment id, or ErrNotFound as GitHub answers for a
// deleted one.
func (g *fakeGitHub) comment(id int64) (*fakeComment, error) {
	if id < 1 || int(id) > len(g.comments) || g.comments[id-1].Deleted {
		return nil, fmt.Errorf("comment %d: %w", id, githubapp.ErrNotFound)
	}
	return &g.comments[id-1], nil
}

func (g *fakeGitHub) EditComment(_ context.Context, id int64, body string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.comment(id)
	if err != nil {
		return err
	}
	c.Body = body
	g.edits++
	return nil
}

func (g *fakeGitHub) DeleteComment(_ context.Context, id int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.comment(id)
	if err != nil {
		return err
	}
	c.Deleted = true
	return nil
}

func (g *fakeGitHub) React(_ context.Context, id int64, r githubapp.Reaction) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reactions[id] = append(g.reactions[id], r)
	return nil
}

func (g *fakeGitHub) SyncLabels(_ context.Context, number int, want, _ []githubapp.Label) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var names []string
	for _, l := range want {
		names = append(names, l.Name)
	}
	g.labels[number] = names
	return nil
}

// personComments adds a comment by a person on number.
func (g *fakeGitHub) personComment(number int, body string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := int64(len(g.comments) + 1)
	g.comments = append(g.comments, fakeComment{ID: id, Number: number, Body: body, Person: true})
	return id
}

// deleteComment deletes comment id as a person would.
func (g *fakeGitHub) deleteComment(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.comments[id-1].Deleted = true
}
