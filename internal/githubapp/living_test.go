package githubapp_test

import (
	"context"
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

func page(marker, text string) githubapp.MarkedComment {
	return githubapp.MarkedComment{Marker: marker, Body: marker + "\n" + text}
}

func bodies(repo *githubtest.Repo) []string {
	var out []string
	for _, c := range repo.Comments(1) {
		out = append(out, c.Body)
	}
	return out
}

// Rounds edit the comment carrying their marker instead of posting anew;
// follow-ups come and go with the round's length; a comment a person
// deleted is posted again; a person's comment quoting the marker is never
// touched.
func TestPublishLivingEditsInPlace(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	const fam = "<!-- tfpr:plan"
	m1, m2, m3 := fam+" -->", fam+" part=2 -->", fam+" part=3 -->"
	repo.AddComment(t, 1, "dev-bob", m1+"\nquoting tfpr")

	ids, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(m1, "round 1")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(m1, "round 2")})
	if err != nil {
		t.Fatal(err)
	}
	if got := bodies(repo); len(got) != 2 || got[1] != m1+"\nround 2" || again[0] != ids[0] || got[0] != m1+"\nquoting tfpr" {
		t.Fatalf("after two rounds: comments %q, ids %v then %v; want the person's and one edited tfpr comment", got, ids, again)
	}

	if _, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(m1, "round 3"), page(m2, "part 2"), page(m3, "part 3")}); err != nil {
		t.Fatal(err)
	}
	if got := bodies(repo); len(got) != 4 || got[1] != m1+"\nround 3" || got[3] != m3+"\npart 3" {
		t.Fatalf("with follow-ups: %q", got)
	}
	if _, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(m1, "round 4")}); err != nil {
		t.Fatal(err)
	}
	if got := bodies(repo); len(got) != 2 || got[1] != m1+"\nround 4" {
		t.Fatalf("follow-ups of a longer round must go: %q", got)
	}

	if err := c.DeleteComment(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(m1, "round 5")}); err != nil {
		t.Fatalf("a deleted living comment must be posted again, not fail: %v", err)
	}
	if got := bodies(repo); len(got) != 2 || got[1] != m1+"\nround 5" {
		t.Fatalf("after deletion: %q", got)
	}
	if _, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{{Marker: m1, Body: "no marker"}}); err == nil {
		t.Fatal("a page not starting with its marker was published")
	}
}

// The living comment is found past the first page of a busy PR's comments.
func TestPublishLivingFindsItsCommentOnLaterPages(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	const fam = "<!-- tfpr:plan"
	if _, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(fam+" -->", "round 1")}); err != nil {
		t.Fatal(err)
	}
	for i := range 250 {
		repo.AddComment(t, 1, "dev-bob", fmt.Sprintf("comment %d", i))
	}
	if _, err := c.PublishLiving(ctx, 1, fam, []githubapp.MarkedComment{page(fam+" -->", "round 2")}); err != nil {
		t.Fatal(err)
	}
	got := bodies(repo)
	if len(got) != 251 || got[0] != fam+" -->\nround 2" {
		t.Fatalf("%d comments, first %q; want 251 with the first edited", len(got), got[0])
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
func TestLivingCommentsAreMasked(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	token := "ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop"
	m := "<!-- tfpr:plan -->"
	for _, text := range []string{"first " + token, "edited " + token} {
		if _, err := c.PublishLiving(ctx, 1, "<!-- tfpr:plan", []githubapp.MarkedComment{page(m, text)}); err != nil {
			t.Fatal(err)
		}
	}
	got := bodies(repo)
	if len(got) != 1 || strings.Contains(got[0], "ya29.") || !strings.Contains(got[0], "edited «redacted»") {
		t.Fatalf("living comment %q leaks the token or was not edited", got)
	}
}
