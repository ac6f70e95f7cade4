package workspace

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tfpr/tfpr/internal/metrics"
)

// A fetch git cannot do (the upstream is gone) counts as a git error; a
// fetch that works counts nothing.
func TestFailedFetchIsCounted(t *testing.T) {
	up := newUpstream(t)
	up.commit("one", map[string]string{"a.txt": "1"})
	m, _ := newManager(t)
	reg := prometheus.NewRegistry()
	var err error
	if m.Metrics, err = metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	fetchAll(t, m, up.repo(), "+refs/heads/main:refs/heads/main")
	gone := up.repo()
	gone.CloneURL += "-missing"
	gone.FullName = "acme/gone"
	if err := m.Fetch(context.Background(), gone, "", "+refs/heads/main:refs/heads/main"); err == nil {
		t.Fatal("fetch from a missing upstream succeeded")
	}
	want := "# HELP tfpr_git_errors_total Failed git operations against GitHub, by operation.\n# TYPE tfpr_git_errors_total counter\ntfpr_git_errors_total{op=\"fetch\"} 1\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tfpr_git_errors_total"); err != nil {
		t.Error(err)
	}
}
