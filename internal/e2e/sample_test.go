package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
)

// sampleDir is the sample monorepo the README's walkthrough uses.
const sampleDir = "../../testdata/microservices-terraform"

var sampleProjects = []string{
	"microservices/orders/dev", "microservices/orders/prod",
	"microservices/payments/dev", "microservices/payments/prod",
}

// seedSample commits every file of the sample monorepo to main.
func seedSample(t *testing.T, repo *githubtest.Repo) string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(sampleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(sampleDir, p)
		files[filepath.ToSlash(rel)] = string(raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return repo.Commit(t, "main", files, "sample monorepo")
}

// TestSampleMonorepo runs the walkthrough: a PR changing the shared module
// plans all four projects that call it, and its merge applies each of them
// into its own state.
func TestSampleMonorepo(t *testing.T) {
	// Checkouts outside the data dir, as the manifest keeps them.
	checkouts := t.TempDir()
	h := start(t, map[string]string{"TFPR_CHECKOUT_DIR": checkouts})
	base := seedSample(t, h.repo)
	src, err := os.ReadFile(filepath.Join(sampleDir, "modules/service-base/main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), `    plan    = "tf-ro-${local.project}"`, `    plan    = "tf-ro-${local.project}"
    region  = "europe-west1"`, 1)
	if changed == string(src) {
		t.Fatal("the sample's shared module changed; update this test's edit")
	}
	head := h.repo.Commit(t, "base-region", map[string]string{"modules/service-base/main.tf": changed}, "service-base: record the region")
	h.repo.OpenPR(t, 1, "base-region", "dev-alice")
	h.deliver("pull_request", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 4*time.Minute, "plan check runs for the four projects", func() bool {
		for _, p := range sampleProjects {
			if _, ok := h.checkRun("tfpr plan: "+p, head); !ok {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(filepath.Join(h.data, "checkouts")); !os.IsNotExist(err) {
		t.Errorf("the data dir has a checkouts dir (%v) although TFPR_CHECKOUT_DIR is set", err)
	}
	if subs, err := filepath.Glob(filepath.Join(checkouts, "tfpr-checkouts-*")); err != nil || len(subs) != 1 {
		t.Errorf("TFPR_CHECKOUT_DIR holds %v (%v), want one tfpr-checkouts-* dir", subs, err)
	}
	for _, p := range sampleProjects {
		if cr, _ := h.checkRun("tfpr plan: "+p, head); cr.Conclusion != "success" {
			t.Errorf("plan check of %s: %s (%s), want success", p, cr.Conclusion, cr.Summary)
		}
	}
	// The checks complete project by project; the living comment is edited
	// once the round is whole.
	var comments strings.Builder
	eventually(t, time.Minute, "the plan comment of the whole round", func() bool {
		comments.Reset()
		for _, c := range h.commentsContaining(1, "tfpr plan") {
			comments.WriteString(c)
		}
		return strings.Contains(comments.String(), "module.base.terraform_data.identity")
	})
	for _, p := range sampleProjects {
		if !strings.Contains(comments.String(), p) {
			t.Errorf("the plan comment does not name %s:\n%s", p, comments.String())
		}
	}
	if !strings.Contains(comments.String(), "module.base.terraform_data.identity") {
		t.Errorf("the plan comment does not show the shared module's resource:\n%s", comments.String())
	}

	merge := h.repo.Merge(t, 1, "lead-carol")
	h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", base, merge))
	eventually(t, 4*time.Minute, "apply check runs for the four projects", func() bool {
		for _, p := range sampleProjects {
			if _, ok := h.checkRun("tfpr apply: "+p, merge); !ok {
				return false
			}
		}
		return true
	})
	for _, p := range sampleProjects {
		if cr, _ := h.checkRun("tfpr apply: "+p, merge); cr.Conclusion != "success" {
			t.Errorf("apply of %s: %s (%s), want success", p, cr.Conclusion, cr.Summary)
			continue
		}
		service, env, _ := strings.Cut(strings.TrimPrefix(p, "microservices/"), "/")
		state := string(h.gcs.Object(t, stateObject(p, "default.tfstate")))
		for _, want := range []string{`"tf-ro-` + service + `-` + env + `"`, `"europe-west1"`} {
			if !strings.Contains(state, want) {
				t.Errorf("state of %s lacks %s", p, want)
			}
		}
	}
}
