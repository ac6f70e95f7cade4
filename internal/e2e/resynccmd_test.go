package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A command comment whose webhook never arrives (shed under load; GitHub
// does not redeliver) is carried out by the resync, once; a delivered one
// is not carried out again by a later resync.
func TestResyncRecoversUndeliveredCommands(t *testing.T) {
	h := start(t, map[string]string{"TFPR_RESYNC_INTERVAL": "1s"})
	seed(t, h.repo)
	head := alphaPR(t, h, 1, "lost", "lost-command")
	h.repo.SetPermission("writer-wes", "write")
	plans := func() int { return h.planRounds("microservices/alpha/dev", head) }
	var helpIDs []int64
	helps := func() int { // answered: a reaction on the command
		n := 0
		for _, id := range helpIDs {
			if slices.Contains(h.repo.Reactions(id), "+1") {
				n++
			}
		}
		return n
	}
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	// The first resync applies the seeded main, which re-plans #1; count
	// plans from there.
	eventually(t, 2*time.Minute, "#1 re-planned over the applied main", func() bool {
		c := h.commentsContaining(1, "tfpr plan for")
		return len(c) > 0 && strings.Contains(c[len(c)-1], "| 📝 changes | 0 | 1 | 0 | 0 |")
	})
	base := plans()

	h.repo.AddComment(t, 1, "writer-wes", "tfpr plan")
	eventually(t, 2*time.Minute, "plan from the undelivered command", func() bool { return plans() == base+1 })
	// An undelivered `tfpr help` answered means a later resync read the
	// comments again, the lost `tfpr plan` among them.
	helpIDs = append(helpIDs, h.repo.AddComment(t, 1, "writer-wes", "tfpr help"))
	eventually(t, time.Minute, "help from a later resync", func() bool { return helps() == 1 })
	if n := plans(); n != base+1 {
		t.Fatalf("%d plan rounds after later resyncs, want %d: the recovered command ran again", n, base+1)
	}

	id := h.repo.AddComment(t, 1, "writer-wes", "tfpr plan")
	h.deliver("issue_comment", h.repo.CommentPayloadID(t, 1, id, "writer-wes", "tfpr plan"))
	eventually(t, 2*time.Minute, "plan from the delivered command", func() bool { return plans() == base+2 })
	helpIDs = append(helpIDs, h.repo.AddComment(t, 1, "writer-wes", "tfpr help"))
	eventually(t, time.Minute, "second help from a later resync", func() bool { return helps() == 2 })
	if n := plans(); n != base+2 {
		t.Fatalf("%d plan rounds after later resyncs, want %d: the delivered command ran again", n, base+2)
	}
	if n := helps(); n != 2 {
		t.Fatalf("%d help replies, want 2", n)
	}
}
