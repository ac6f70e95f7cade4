package runner

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
)

type fakeGitHub struct {
	mu       sync.Mutex
	perms    map[string]string // user -> permission; missing: "read"
	teams    map[string][]string
	prs      map[int]githubapp.PR
	merged   map[string]githubapp.PR // merge commit -> PR
	recent   map[int][]githubapp.UserComment
	comments []fakeComment
	checks   []githubapp.CheckRun
	issues   []string // titles
	closed   []int
	// drift issues: see fakeissues_test.go
	kept       map[int]*githubapp.Issue
	keptBy     map[int]string
	issueEdits map[int]int
	// living comments, labels and reactions: see fakeliving_test.go
	edits     int
	staleList bool // OwnComments still lists deleted comments, as a list read just before a deletion does
	labels    map[int][]string
	reactions map[int64][]githubapp.Reaction
}

type fakeComment struct {
	ID      int64
	Number  int
	Body    string
	Person  bool // written by a person, not by tfpr
	Deleted bool
}

func newFakeGitHub() *fakeGitHub {
	return &fakeGitHub{perms: map[string]string{}, teams: map[string][]string{}, prs: map[int]githubapp.PR{},
		merged: map[string]githubapp.PR{}, recent: map[int][]githubapp.UserComment{},
		labels: map[int][]string{}, reactions: map[int64][]githubapp.Reaction{},
		kept: map[int]*githubapp.Issue{}, keptBy: map[int]string{}, issueEdits: map[int]int{}}
}

func (g *fakeGitHub) Repo(int64, string) (RepoClient, error) { return g, nil }

func (g *fakeGitHub) Token(context.Context) (string, error) { return "ghs_faketoken123", nil }

func (g *fakeGitHub) Comment(_ context.Context, number int, body string) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := int64(len(g.comments) + 1)
	g.comments = append(g.comments, fakeComment{ID: id, Number: number, Body: body})
	return id, nil
}

func (g *fakeGitHub) RecentComments(_ context.Context, number int, _ time.Time) ([]githubapp.UserComment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.recent[number], nil
}

func (g *fakeGitHub) CreateCheckRun(_ context.Context, cr githubapp.CheckRun) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checks = append(g.checks, cr)
	return int64(len(g.checks)), nil
}

func (g *fakeGitHub) PullRequest(_ context.Context, number int) (githubapp.PR, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pr, ok := g.prs[number]
	if !ok {
		return pr, fmt.Errorf("PR #%d: %w", number, store.ErrNotFound)
	}
	return pr, nil
}

func (g *fakeGitHub) OpenPullRequests(_ context.Context, base string) ([]githubapp.PR, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []githubapp.PR
	for _, pr := range g.prs {
		if pr.State == "open" && pr.BaseRef == base {
			out = append(out, pr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

func (g *fakeGitHub) MergedPullRequest(_ context.Context, sha string) (githubapp.PR, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pr, ok := g.merged[sha]
	return pr, ok, nil
}

func (g *fakeGitHub) Permission(_ context.Context, user string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.perms[user]; ok {
		return p, nil
	}
	return "read", nil
}

func (g *fakeGitHub) TeamMember(_ context.Context, team, user string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Contains(g.teams[team], user), nil
}

func (g *fakeGitHub) EnsureIssue(_ context.Context, title, _, _ string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.issues = append(g.issues, title)
	return 900 + len(g.issues), nil
}

func (g *fakeGitHub) CloseIssue(_ context.Context, number int, body string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = append(g.closed, number)
	g.comments = append(g.comments, fakeComment{ID: int64(len(g.comments) + 1), Number: number, Body: body})
	if is, ok := g.kept[number]; ok {
		is.State = "closed"
	}
	return nil
}

// commentsOn returns the comments posted on PR or issue number.
func (g *fakeGitHub) commentsOn(number int) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, c := range g.comments {
		if c.Number == number && !c.Deleted {
			out = append(out, c.Body)
		}
	}
	return out
}

// check returns the last check run posted for externalID ("kind:project").
func (g *fakeGitHub) check(t *testing.T, externalID string) githubapp.CheckRun {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.checks) - 1; i >= 0; i-- {
		if g.checks[i].ExternalID == externalID {
			return g.checks[i]
		}
	}
	t.Fatalf("no check run %s among %d", externalID, len(g.checks))
	return githubapp.CheckRun{}
}
