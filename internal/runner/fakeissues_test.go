package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
)

// The fake's issues found by marker, opened and edited in place: what
// drift checks keep.

func (g *fakeGitHub) FindIssue(_ context.Context, label, marker string) (githubapp.Issue, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var closed *githubapp.Issue
	for n := 1; n < 2000; n++ {
		is, ok := g.kept[n]
		if !ok || g.keptBy[n] != label || !strings.Contains(is.Body, marker) {
			continue
		}
		if is.State == "open" {
			return *is, true, nil
		}
		closed = is
	}
	if closed != nil {
		return *closed, true, nil
	}
	return githubapp.Issue{}, false, nil
}

func (g *fakeGitHub) OpenIssue(_ context.Context, title, label, body string) (githubapp.Issue, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 500 + len(g.kept) + 1
	g.kept[n] = &githubapp.Issue{Number: n, Title: title, Body: body, State: "open"}
	g.keptBy[n] = label
	return *g.kept[n], nil
}

func (g *fakeGitHub) EditIssue(_ context.Context, number int, title, body string) (githubapp.Issue, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	is, ok := g.kept[number]
	if !ok {
		return githubapp.Issue{}, fmt.Errorf("issue #%d: %w", number, store.ErrNotFound)
	}
	is.Title, is.Body, is.State = title, body, "open"
	g.issueEdits[number]++
	return *is, nil
}

// keptIssues returns the issues opened with OpenIssue labelled label.
func (g *fakeGitHub) keptIssues(label string) []githubapp.Issue {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []githubapp.Issue
	for n := 1; n < 2000; n++ {
		if is, ok := g.kept[n]; ok && g.keptBy[n] == label {
			out = append(out, *is)
		}
	}
	return out
}
