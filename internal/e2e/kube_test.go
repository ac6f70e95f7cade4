package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/executor/kubetest"
	"github.com/tfpr/tfpr/internal/testenv"
)

const runNS = "tfpr-runs"

// kubeJobs are the created Jobs of stage, by name.
func kubeJobs(c *kubetest.Cluster, stage string) []*batchv1.Job {
	var out []*batchv1.Job
	for _, j := range c.Created() {
		if j.Labels[executor.LabelStage] == stage {
			out = append(out, j)
		}
	}
	return out
}

// Runs are Kubernetes Jobs that outlive the server: a server stopped
// mid-apply exits at once and the next one adopts the running Job and
// reports it once; a Job evicted while no server ran is found dead by the
// next one, which takes the interrupted-apply path (re-plan, then apply),
// as the running server does for a Job evicted under it.
func TestKubernetesJobsOutliveTheServer(t *testing.T) {
	for _, point := range []string{"server-stopped-mid-apply", "job-evicted-while-server-down", "job-evicted-mid-apply"} {
		t.Run(point, func(t *testing.T) {
			c := kubetest.New(t)
			ctrl, logDir := t.TempDir(), t.TempDir()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) // fixed across restarts, as a Service's is
			ln.Close()
			c.Resolve("tfpr-internal.tfpr.svc", "127.0.0.1")
			c.AddServiceAccounts(runNS, "tf-alpha-dev", "tf-ro-alpha-dev")
			h := startWith(t, map[string]string{
				"TFPR_EXECUTOR":      "kubernetes",
				"TFPR_RUN_NAMESPACE": runNS,
				"TFPR_RUN_IMAGE":     "ghcr.io/acme/tfpr:test",
				"TFPR_INTERNAL_ADDR": ":" + port,
				"TFPR_INTERNAL_URL":  "http://tfpr-internal.tfpr.svc:" + port,
				"TFPR_TERRAFORM_BIN": gateWrapper(t, testenv.Terraform(t), logDir, ctrl),
			}, c.Client)
			h.logDir = logDir
			before := seed(t, h.repo)
			alphaPR(t, h, 1, "change", "k8s-"+point)
			merge := h.repo.Merge(t, 1, "lead-carol")
			h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, merge))
			eventually(t, 2*time.Minute, "the apply to start", func() bool {
				b, _ := os.ReadFile(filepath.Join(logDir, "applying"))
				return len(b) > 0
			})

			if point != "job-evicted-mid-apply" {
				began := time.Now()
				h.stop()
				h.stop = nil
				stopped := time.Since(began)
				t.Logf("server stopped in %s with an apply Job running", stopped)
				if stopped > 30*time.Second {
					t.Fatalf("the server waited %s for its running Job", stopped)
				}
			}
			applies := kubeJobs(c, "apply")
			if len(applies) != 1 {
				t.Fatalf("%d apply Jobs before the restart, want 1", len(applies))
			}
			if cmd := applies[0].Spec.Template.Spec.Containers[0].Command; len(cmd) == 0 || filepath.Base(cmd[0]) != "tfpr-worker" {
				t.Fatalf("the Job's pod runs %q, want the lean worker tfpr-worker", cmd)
			}
			if point != "server-stopped-mid-apply" {
				c.Kill(runNS, applies[0].Name, batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue,
					Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"},
					&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: applies[0].Name + "-x7k2p", Labels: applies[0].Spec.Template.Labels},
						Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}})
				eventually(t, time.Minute, "the Job to fail", func() bool {
					j, err := c.Client.BatchV1().Jobs(runNS).Get(context.Background(), applies[0].Name, metav1.GetOptions{})
					return err == nil && len(j.Status.Conditions) > 0
				})
			}

			if h.stop == nil {
				h.boot()
			}
			os.WriteFile(filepath.Join(ctrl, "resume"), nil, 0o600)
			eventually(t, 3*time.Minute, "the apply reported after the restart", func() bool {
				return len(h.commentsContaining(1, "Apply complete")) > 0
			})
			state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")))
			if !strings.Contains(state, "k8s-"+point) {
				t.Fatalf("state lacks the merge:\n%s", state)
			}
			if lock := h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tflock")); lock != nil {
				t.Fatalf("a state lock was left behind: %s", lock)
			}
			applied, _ := os.ReadFile(filepath.Join(logDir, "applied"))
			if n := strings.Count(string(applied), "done"); n != 1 {
				t.Fatalf("%d completed applies, want exactly 1", n)
			}
			if n := len(h.commentsContaining(1, "Apply complete")); n != 1 {
				t.Fatalf("the apply was reported %d times", n)
			}
			if failed := h.commentsContaining(1, "Apply failed"); len(failed) > 0 {
				t.Errorf("an apply was reported failed:\n%s", failed[0])
			}
			first := h.commentsContaining(1, "Apply complete")[0]
			switch point {
			case "server-stopped-mid-apply":
				if !strings.Contains(first, "carried on without it") {
					t.Errorf("the adopted apply's comment should say tfpr restarted while it ran:\n%s", first)
				}
				if n := len(kubeJobs(c, "apply")); n != 1 {
					t.Errorf("%d apply Jobs; the adopted apply must not run again", n)
				}
			case "job-evicted-while-server-down", "job-evicted-mid-apply":
				if !strings.Contains(first, "interrupted") {
					t.Errorf("the apply comment should say the first attempt was interrupted:\n%s", first)
				}
				if n := len(kubeJobs(c, "apply")); n != 2 {
					t.Errorf("%d apply Jobs, want the evicted one and one after a fresh plan", n)
				}
				if is := h.repo.Issues(); len(is) != 0 {
					t.Errorf("the evicted apply was reported as a failure: %+v", is)
				}
			}
			for stage, sa := range map[string]string{"plan": "tf-ro-alpha-dev", "apply": "tf-alpha-dev"} {
				for _, j := range kubeJobs(c, stage) {
					if got := j.Spec.Template.Spec.ServiceAccountName; got != sa {
						t.Errorf("%s Job %s runs as %q, want %q", stage, j.Name, got, sa)
					}
				}
			}
		})
	}
}
