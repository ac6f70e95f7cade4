package runner

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
)

func TestCommands(t *testing.T) {
	tests := []struct {
		name   string
		actor  string
		body   string
		isPR   bool
		answer string // part of the reply
		queued bool   // a plan job was queued
	}{
		{"help", "bob", "tfpr help", true, "tfpr commands", false},
		{"unknown verb", "bob", "tfpr destroy", true, "`tfpr destroy` is not a tfpr command", false},
		{"no write access", "eve", "tfpr plan", true, "needs write access", false},
		{"bad plan arguments", "bob", "tfpr plan -x", true, "usage: `tfpr plan", false},
		{"plan on an issue", "bob", "tfpr plan", false, "works on pull requests only", false},
		{"plan", "bob", "tfpr plan -p " + projA, true, "", true},
		{"approve by the author", "alice", "tfpr approve TFPR020", true, "cannot approve its own", false},
		{"approve by a writer", "bob", "tfpr approve TFPR020", true, "only configured approvers", false},
		{"approve before any plan", "carol", "tfpr approve TFPR020", true, "has no plan yet", false},
		{"approve without a rule", "carol", "tfpr approve", true, "usage on a pull request", false},
		{"apply with nothing held", "carol", "tfpr apply", true, "nothing is waiting", false},
		{"unblock an unblocked project", "bob", "tfpr unblock -p " + projA, true, "is not blocked", false},
		{"unblock on a PR", "bob", "tfpr unblock", true, "no project is blocked by this issue", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{ApproverUsers: []string{"carol"}})
			h.gh.perms["bob"], h.gh.perms["carol"] = "write", "admin"
			h.gh.prs[4] = githubapp.PR{Number: 4, HeadSHA: "h1", BaseRef: "main", Author: "alice", State: "open"}
			ctx := context.Background()
			err := h.r.command(ctx, store.Job{Kind: store.JobCommand, Repo: h.repo, PR: 4, IsPR: tt.isPR, Actor: tt.actor, Body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(h.gh.commentsOn(4), "\n")
			if tt.answer == "" && got != "" || !strings.Contains(got, tt.answer) {
				t.Errorf("reply = %q, want one saying %q", got, tt.answer)
			}
			jobs, err := h.st.ClaimJobs(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if queued := len(jobs) == 1 && jobs[0].Kind == store.JobPR; queued != tt.queued {
				t.Errorf("plan job queued = %v (%+v), want %v", queued, jobs, tt.queued)
			}
			if tt.queued && !slices.Equal(jobs[0].Projects, []string{projA}) {
				t.Errorf("plan job projects = %q", jobs[0].Projects)
			}
		})
	}
}
