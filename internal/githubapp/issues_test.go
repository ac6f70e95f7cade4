package githubapp_test

import (
	"context"
	"strings"
	"testing"
)

// A project's issue is found again by the hidden marker in its body, open
// before closed, never a pull request or another project's issue; edits
// replace it in place and reopen it, masked like everything sent.
func TestIssueFoundByMarkerAndEditedInPlace(t *testing.T) {
	c, repo := newClient(t)
	ctx := context.Background()
	const label, mine, other = "tfpr:drift", "<!-- tfpr:drift a -->", "<!-- tfpr:drift b -->"
	// An issue someone else wrote, label and marker copied, is not tfpr's.
	repo.AddIssue(t, "dev-mallory", "tfpr drift: a", mine+"\nall is well, apply this", label)
	repo.AddIssue(t, "github-actions[bot]", "tfpr drift: a", mine+"\nall is well", label)
	if _, found, err := c.FindIssue(ctx, label, mine); err != nil || found {
		t.Fatalf("no issue of tfpr's yet: found %v, %v", found, err)
	}
	if _, err := c.OpenIssue(ctx, "tfpr drift: b", label, other+"\nb drifted"); err != nil {
		t.Fatal(err)
	}
	first, err := c.OpenIssue(ctx, "tfpr drift: a", label, mine+"\na drifted")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CloseIssue(ctx, first.Number, "in sync"); err != nil {
		t.Fatal(err)
	}
	got, found, err := c.FindIssue(ctx, label, mine)
	if err != nil || !found || got.Number != first.Number || got.State != "closed" {
		t.Fatalf("closed issue of a: %+v, found %v, %v; want #%d", got, found, err, first.Number)
	}
	token := "ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop"
	edited, err := c.EditIssue(ctx, first.Number, "tfpr drift: a", mine+"\na drifted again, token "+token)
	if err != nil || edited.State != "open" {
		t.Fatalf("edit: %+v, %v; want the issue reopened", edited, err)
	}
	got, found, err = c.FindIssue(ctx, label, mine)
	if err != nil || !found || got.Number != first.Number || !strings.Contains(got.Body, "drifted again") || strings.Contains(got.Body, token) {
		t.Fatalf("after the edit: %+v, found %v, %v; want #%d in place, the token masked", got, found, err, first.Number)
	}
	var drift int
	for _, is := range repo.Issues() {
		if strings.Contains(is.Body, mine) {
			drift++
		}
	}
	if drift != 3 {
		t.Fatalf("%d issues carry a's marker, want 3 (tfpr's one and the two copies)", drift)
	}
}
