package githubapp_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/githubtest"
)

func newClient(t *testing.T) (*githubapp.Client, *githubtest.Repo) {
	t.Helper()
	gh := githubtest.New(t, githubtest.Options{})
	repo := gh.AddRepo(t, "acme", "infra", 7)
	repo.Commit(t, "feature", map[string]string{"main.tf": "# x\n"}, "feature")
	repo.OpenPR(t, 1, "feature", "dev-alice")
	app, err := githubapp.New(githubapp.Options{AppID: gh.AppID(), PrivateKey: gh.PrivateKeyPEM(), APIURL: gh.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Repo(7, "acme/infra")
	if err != nil {
		t.Fatal(err)
	}
	return c, repo
}

func bodies(repo *githubtest.Repo) []string {
	var out []string
	for _, c := range repo.Comments(1) {
		out = append(out, c.Body)
	}
	return out
}

// tfpr finds its own comments by their first line, past the first page of
// a busy PR, and never a person's comment quoting a marker; a comment a
// person deleted answers ErrNotFound, which tells tfpr to post it again.
func TestOwnCommentsAndDeletedOnes(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	const fam = "<!-- tfpr:plan"
	m1, m2 := fam+" -->", fam+" part=2 -->"
	repo.AddComment(t, 1, "dev-bob", m1+"\nquoting tfpr")
	repo.AddComment(t, 1, "github-actions[bot]", m1+"\nno changes (a workflow's copy)")
	id1, err := c.Comment(ctx, 1, m1+"\nround 1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 250 {
		repo.AddComment(t, 1, "dev-bob", fmt.Sprintf("comment %d", i))
	}
	id2, err := c.Comment(ctx, 1, m2+"\npart 2")
	if err != nil {
		t.Fatal(err)
	}
	own, err := c.OwnComments(ctx, 1, fam)
	if err != nil {
		t.Fatal(err)
	}
	want := []githubapp.OwnComment{{ID: id1, Marker: m1, Body: m1 + "\nround 1"}, {ID: id2, Marker: m2, Body: m2 + "\npart 2"}}
	if !slices.Equal(own, want) {
		t.Fatalf("own comments = %+v, want %+v", own, want)
	}
	if err := c.EditComment(ctx, id1, m1+"\nround 2"); err != nil {
		t.Fatal(err)
	}
	if got := bodies(repo); got[2] != m1+"\nround 2" || got[0] != m1+"\nquoting tfpr" {
		t.Fatalf("after an edit: %q", got[:3])
	}
	if err := c.DeleteComment(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if err := c.EditComment(ctx, id2, m2+"\nagain"); !errors.Is(err, githubapp.ErrNotFound) {
		t.Fatalf("editing a deleted comment: %v, want ErrNotFound", err)
	}
	if err := c.DeleteComment(ctx, id2); !errors.Is(err, githubapp.ErrNotFound) {
		t.Fatalf("deleting a deleted comment: %v, want ErrNotFound", err)
	}
}

func TestSyncLabelsAndReactions(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	destroy := githubapp.Label{Name: "tfpr:destroy", Color: "b60205", Description: "destroys"}
	changes := githubapp.Label{Name: "tfpr:changes", Color: "fbca04", Description: "changes"}
	none := githubapp.Label{Name: "tfpr:no-changes", Color: "0e8a16", Description: "no changes"}
	managed := []githubapp.Label{destroy, changes, none}
	repo.AddLabel(t, 1, "needs-review")
	if err := c.SyncLabels(ctx, 1, []githubapp.Label{destroy, changes}, managed); err != nil {
		t.Fatal(err)
	}
	if got := repo.Labels(1); !slices.Equal(got, []string{"needs-review", "tfpr:destroy", "tfpr:changes"}) {
		t.Fatalf("labels %v", got)
	}
	if err := c.SyncLabels(ctx, 1, []githubapp.Label{none}, managed); err != nil {
		t.Fatal(err)
	}
	if got := repo.Labels(1); !slices.Equal(got, []string{"needs-review", "tfpr:no-changes"}) {
		t.Fatalf("labels after the revert %v: want the person's label kept and only tfpr:no-changes of tfpr's", got)
	}
	for _, l := range repo.RepoLabels() {
		if strings.HasPrefix(l.Name, "tfpr:") && (l.Color == "ededed" || l.Description == "") {
			t.Errorf("label %s was created without its colour or description: %+v", l.Name, l)
		}
	}

	id := repo.AddComment(t, 1, "dev-alice", "tfpr plan")
	if err := c.React(ctx, id, githubapp.ReactionSeen); err != nil {
		t.Fatal(err)
	}
	if err := c.React(ctx, id, githubapp.ReactionDone); err != nil {
		t.Fatal(err)
	}
	if got := repo.Reactions(id); !slices.Equal(got, []string{"eyes", "+1"}) {
		t.Fatalf("reactions %v", got)
	}
}

// Edited comments pass the same masker as new ones.
func TestEditedCommentsAreMasked(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	token := "ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop"
	id, err := c.Comment(ctx, 1, "first "+token)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EditComment(ctx, id, "edited "+token); err != nil {
		t.Fatal(err)
	}
	got := bodies(repo)
	if len(got) != 1 || strings.Contains(got[0], "ya29.") || !strings.Contains(got[0], "edited «redacted»") {
		t.Fatalf("comment %q leaks the token or was not edited", got)
	}
}
