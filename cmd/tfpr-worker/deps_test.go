package main

import (
	"os/exec"
	"strings"
	"testing"
)

// serverOnly are import paths (prefixes) of what tfpr's server needs and a
// worker does not; each costs package initialisation and page faults on
// every run's start.
var serverOnly = []string{
	"github.com/open-policy-agent/",
	"k8s.io/",
	"sigs.k8s.io/",
	"github.com/prometheus/",
	"github.com/google/go-github/",
	"modernc.org/sqlite",
	"github.com/tfpr/tfpr/internal/server",
	"github.com/tfpr/tfpr/internal/executor",
	"github.com/tfpr/tfpr/internal/policy",
	"github.com/tfpr/tfpr/internal/store",
	"github.com/tfpr/tfpr/internal/githubapp",
	"github.com/tfpr/tfpr/internal/metrics",
}

// serverDeps lists what pkg links of serverOnly.
func serverDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var found []string
	for _, dep := range strings.Fields(string(out)) {
		for _, p := range serverOnly {
			if strings.HasPrefix(dep, p) {
				found = append(found, dep)
				break
			}
		}
	}
	return found
}

func TestWorkerLinksNoServerPackages(t *testing.T) {
	if found := serverDeps(t, "github.com/tfpr/tfpr/cmd/tfpr-worker"); len(found) > 0 {
		t.Errorf("tfpr-worker links %d server packages, which every run would initialise; first ones: %s",
			len(found), strings.Join(found[:min(len(found), 8)], " "))
	}
	// The same check on tfpr itself finds them: the list names real
	// import paths, so the check above can fail.
	if found := serverDeps(t, "github.com/tfpr/tfpr/cmd/tfpr"); len(found) == 0 {
		t.Error("tfpr links none of the server packages; the list above is stale")
	}
}
