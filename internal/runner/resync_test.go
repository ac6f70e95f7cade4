package runner

import (
	"context"
	"slices"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/store"
)

func TestResyncQueuesWhatWebhooksLost(t *testing.T) {
	h := newHarness(t, Config{})
	h.gh.prs[4] = githubapp.PR{Number: 4, HeadSHA: "h1", BaseRef: "main", Author: "alice", State: "open"}
	h.gh.prs[5] = githubapp.PR{Number: 5, HeadSHA: "h5", BaseRef: "release", State: "open"}
	h.gh.recent[4] = []githubapp.UserComment{{ID: 10, Author: "bob", Body: "tfpr plan"}, {ID: 11, Author: "tfpr[bot]", Body: "tfpr plan"},
		{ID: 12, Author: "bob", Body: "looks good"}}
	ctx := context.Background()
	h.r.resync(ctx)
	h.r.resync(ctx) // a second pass finds nothing new
	jobs, err := h.st.ClaimJobs(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []store.JobKind
	for _, j := range jobs {
		kinds = append(kinds, j.Kind)
	}
	slices.Sort(kinds)
	if want := []store.JobKind{store.JobCommand, store.JobMerge, store.JobPR}; !slices.Equal(kinds, want) {
		t.Errorf("resync queued %q, want %q", kinds, want)
	}
}
