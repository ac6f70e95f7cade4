package e2e

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// httpGet reads a page of the running server.
func (h *harness) httpGet(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(h.url, "/webhook") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// A PR's plan, watched the way an operator would: its check run and comment
// link to the run on the runs page, which lists it and shows terraform's
// output; the metrics count the lint and the plan and terraform's exits;
// and every log line of the run names the delivery, repository, PR,
// project and run.
func TestAPlanIsObservable(t *testing.T) {
	h := start(t, map[string]string{"TFPR_PUBLIC_URL": "https://tfpr.acme.example"})
	seed(t, h.repo)
	head := h.repo.Commit(t, "alpha-more", map[string]string{"microservices/alpha/dev/main.tf": backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-v2"
}
`}, "alpha: v2")
	h.repo.OpenPR(t, 1, "alpha-more", "dev-alice")
	h.gh.DeliverID(t, h.url, h.secret, "pull_request", "ops-delivery-1", h.repo.PullRequestPayload(t, 1, "opened"))
	eventually(t, 3*time.Minute, "the plan comment", func() bool { return len(h.commentsContaining(1, "tfpr plan")) > 0 })

	cr, ok := h.checkRun("tfpr plan: microservices/alpha/dev", head)
	if !ok {
		t.Fatal("no completed plan check run")
	}
	m := regexp.MustCompile(`^https://tfpr\.acme\.example/runs/(\d+)$`).FindStringSubmatch(cr.DetailsURL)
	if m == nil {
		t.Fatalf("check run details URL = %q, want the run on the runs page", cr.DetailsURL)
	}
	id := m[1]
	if c := h.commentsContaining(1, "[Run log](https://tfpr.acme.example/runs/"+id+")"); len(c) != 1 {
		t.Errorf("the plan comment does not link the run:\n%s", h.commentsContaining(1, "tfpr plan"))
	}

	list := h.httpGet(t, "/?project=microservices/alpha/dev")
	if !strings.Contains(list, `href="/runs/`+id+`"`) || !strings.Contains(list, "succeeded") {
		t.Errorf("the runs page does not list run %s as succeeded:\n%s", id, list)
	}
	run := h.httpGet(t, "/runs/"+id)
	for _, want := range []string{"Initializing the backend", "terraform_data.queue", "Plan: 1 to add, 0 to change, 0 to destroy."} {
		if !strings.Contains(run, want) {
			t.Errorf("run %s's page lacks terraform's %q", id, want)
		}
	}

	metrics := h.httpGet(t, "/metrics")
	for _, want := range []string{
		`tfpr_runs_total{kind="plan",outcome="succeeded"} 1`,
		`tfpr_runs_total{kind="lint",outcome="succeeded"} 1`,
		`tfpr_terraform_exits_total{code="0",command="plan"} 1`,
		`tfpr_run_duration_seconds_count{kind="plan"} 1`,
		`tfpr_github_requests_total{code="2xx",route="checks"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	h.checkRunLines(t, id, "delivery=ops-delivery-1", "repo="+owner+"/"+repoName, "pr=1", "project=microservices/alpha/dev")

	// The merge's apply: counted, and its output on its page.
	mainBefore := h.repo.Head(t, "main")
	merge := h.repo.Merge(t, 1, "lead-carol")
	h.gh.DeliverID(t, h.url, h.secret, "push", "ops-delivery-2", h.repo.PushPayload(t, "refs/heads/main", mainBefore, merge))
	eventually(t, 3*time.Minute, "apply comment on #1", func() bool { return len(h.commentsContaining(1, "tfpr apply")) > 0 })
	acr, ok := h.checkRun("tfpr apply: microservices/alpha/dev", merge)
	am := regexp.MustCompile(`/runs/(\d+)$`).FindStringSubmatch(acr.DetailsURL)
	if !ok || am == nil {
		t.Fatalf("apply check run %+v links no run", acr)
	}
	if page := h.httpGet(t, "/runs/"+am[1]); !strings.Contains(page, "Apply complete! Resources: 1 added") || !strings.Contains(page, "lead-carol") {
		t.Errorf("apply run %s's page lacks terraform's apply output or who merged:\n%s", am[1], page)
	}
	if metrics := h.httpGet(t, "/metrics"); !strings.Contains(metrics, `tfpr_runs_total{kind="apply",outcome="succeeded"} 1`) {
		t.Error("/metrics does not count the apply")
	}
	h.checkRunLines(t, am[1], "repo="+owner+"/"+repoName, "pr=1", "project=microservices/alpha/dev", "job=")
}

// checkRunLines checks that the server logged lines for run id and that
// each of them carries every attribute in want.
func (h *harness) checkRunLines(t *testing.T, id string, want ...string) {
	t.Helper()
	raw, err := os.ReadFile(h.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.Contains(line, " run="+id+" ") {
			continue
		}
		n++
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("a line of run %s lacks %s: %s", id, w, line)
			}
		}
	}
	if n == 0 {
		t.Errorf("no log line names run %s", id)
	}
}
