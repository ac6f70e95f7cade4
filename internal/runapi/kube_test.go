package runapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/executor/kubetest"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

const runNS = "tfpr-runs"

// newKubeRig is the rig with the kubernetes executor on c. No minter: the
// pods run as their service's own account.
func newKubeRig(t *testing.T, c *kubetest.Cluster, tfBin string) *rig {
	t.Helper()
	r := &rig{t: t, data: t.TempDir(), root: t.TempDir(), minted: &mintLog{}}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(r.data, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store, r.gcs = st, testenv.FakeGCS(t, "state")
	if tfBin == "" {
		tfBin = testenv.Terraform(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr, r.url = ln.Addr().String(), "http://"+ln.Addr().String()
	r.kube = func() executor.Executor {
		ex, err := executor.NewKube(executor.KubeOptions{Client: c.Client, Namespace: runNS, Image: "tfpr:test",
			WorkerBin: testenv.WorkerBinary(t), TerraformBin: tfBin, ServiceAccount: "tf-{service}-{env}",
			PlanServiceAccount: "tf-ro-{service}-{env}", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	c.AddServiceAccounts(runNS, "tf-alpha-dev", "tf-ro-alpha-dev")
	r.bootKube(ln)
	writeProject(t, r.root, "microservices/alpha/dev", "alpha")
	return r
}

func (r *rig) bootKube(ln net.Listener) {
	env := map[string]string{}
	for k, v := range r.gcs.TerraformEnv() {
		if k != "HOME" && k != "GOOGLE_OAUTH_ACCESS_TOKEN" {
			env[k] = v
		}
	}
	r.exec = r.kube()
	d, err := New(Options{Store: r.store, Executor: r.exec, RunsDir: filepath.Join(r.data, "runs"), URL: r.url, Env: env, Poll: 50 * time.Millisecond})
	if err != nil {
		r.t.Fatal(err)
	}
	r.d = d
	r.srv = &http.Server{Handler: d.Handler()}
	go r.srv.Serve(ln)
	r.t.Cleanup(func() { r.srv.Close() })
}

func TestKubePlanThenApplyThroughJobs(t *testing.T) {
	c := kubetest.New(t)
	r := newKubeRig(t, c, "")
	ctx := context.Background()
	req := planReq("microservices/alpha/dev", "")
	req.Root = r.root
	res, err := r.d.Run(ctx, req)
	if err != nil || res.Status != runspec.Succeeded || !res.Plan.HasChanges {
		t.Fatalf("plan through a Job: %v %+v", err, res)
	}
	req.Stage, req.Plan = runspec.Apply, res.Plan.File
	res, err = r.d.Run(ctx, req)
	if err != nil || res.Status != runspec.Succeeded || !strings.Contains(res.Output, "Apply complete!") {
		t.Fatalf("apply through a Job: %v %+v", err, res)
	}
	if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); !strings.Contains(string(st), `"alpha"`) {
		t.Fatalf("state after the apply:\n%s", st)
	}
	jobs := c.Created()
	if len(jobs) != 2 {
		t.Fatalf("%d Jobs, want one per run", len(jobs))
	}
	for i, want := range []string{"tf-ro-alpha-dev", "tf-alpha-dev"} {
		if sa := jobs[i].Spec.Template.Spec.ServiceAccountName; sa != want {
			t.Errorf("Job %s runs as %q, want %q", jobs[i].Name, sa, want)
		}
	}
	if n := len(r.minted.sas); n != 0 {
		t.Fatalf("%d tokens minted; pods run as their service's own account", n)
	}
}

// startOrphanKubeApply plans, then starts the apply and abandons it the
// way a server that stops does; the Job runs as the service's account.
func startOrphanKubeApply(t *testing.T, r *rig, gate string) store.WorkerRun {
	t.Helper()
	return startOrphan(t, r, gate, "")
}

func (r *rig) restartKube() {
	r.srv.Close()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.bootKube(ln)
}

func TestKubeRestartAdoptsActiveJobByLabel(t *testing.T) {
	for _, handle := range []string{"recorded", "never recorded"} {
		t.Run(handle, func(t *testing.T) {
			gate := t.TempDir()
			c := kubetest.New(t)
			r := newKubeRig(t, c, gatedTerraform(t, gate))
			wr := startOrphanKubeApply(t, r, gate)
			if handle == "never recorded" {
				// The server died between creating the Job and storing its
				// handle.
				if err := r.store.SetWorkerHandle(context.Background(), wr.ID, ""); err != nil {
					t.Fatal(err)
				}
				wr.Handle = ""
			}
			r.restartKube()
			began := time.Now()
			found, err := r.d.Inspect(context.Background(), wr)
			if err != nil || found != Alive {
				t.Fatalf("restarted server found the running Job %v (%v), want alive", found, err)
			}
			t.Logf("restart to adoption: %s", time.Since(began))
			os.WriteFile(filepath.Join(gate, "go"), nil, 0o600)
			res, err := r.d.Wait(context.Background(), wr)
			if err != nil || res.Status != runspec.Succeeded || !strings.Contains(res.Output, "Apply complete!") {
				t.Fatalf("adopted apply: %v %+v", err, res)
			}
			if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); !strings.Contains(string(st), `"alpha"`) {
				t.Fatalf("state after the adopted apply:\n%s", st)
			}
			if n := len(c.Created()); n != 2 {
				t.Fatalf("%d Jobs created; the adopted apply must not be started again", n)
			}
		})
	}
}

func TestKubeFailedJobIsFailedRunWithReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		cond batchv1.JobCondition
		pod  *corev1.Pod
		want []string
	}{
		{"deadline exceeded", batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded",
			Message: "Job was active longer than specified deadline"}, nil,
			[]string{"DeadlineExceeded: Job was active longer than specified deadline"}},
		{"pod evicted", batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
			Message: "Job has reached the specified backoff limit"},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "tfpr-run-2-x7k2p"}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
				Reason: "Evicted", Message: "The node was low on resource: memory."}},
			[]string{"BackoffLimitExceeded", "pod tfpr-run-2-x7k2p: Evicted: The node was low on resource: memory."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := t.TempDir()
			c := kubetest.New(t)
			r := newKubeRig(t, c, gatedTerraform(t, gate))
			req := planReq("microservices/alpha/dev", "")
			req.Root = r.root
			res, err := r.d.Run(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			req.Stage, req.Plan = runspec.Apply, res.Plan.File
			done := make(chan error, 1)
			go func() { _, err := r.d.Run(context.Background(), req); done <- err }()
			eventually(t, "the apply to start", func() bool { _, err := os.Stat(filepath.Join(gate, "applying")); return err == nil })
			if tc.pod != nil {
				tc.pod.Labels = c.Created()[1].Spec.Template.Labels
			}
			c.Kill(runNS, "tfpr-run-2", tc.cond, tc.pod)
			err = <-done
			if !errors.Is(err, ErrLost) {
				t.Fatalf("apply whose Job failed returned %v, want a lost run", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); strings.Contains(string(st), `"alpha"`) {
				t.Fatalf("the killed apply reached the state:\n%s", st)
			}
		})
	}
}

func TestKubeRestartFindsFailedJobDead(t *testing.T) {
	gate := t.TempDir()
	c := kubetest.New(t)
	r := newKubeRig(t, c, gatedTerraform(t, gate))
	wr := startOrphanKubeApply(t, r, gate)
	c.Kill(runNS, "tfpr-run-2", batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}, nil)
	eventually(t, "the Job to fail", func() bool {
		ok, _ := r.exec.Alive(context.Background(), executor.Handle{Kind: executor.Kubernetes, RunID: wr.ID})
		return !ok
	})
	r.restartKube()
	found, err := r.d.Inspect(context.Background(), wr)
	if err != nil || found != Dead {
		t.Fatalf("restarted server found the failed Job %v (%v), want dead", found, err)
	}
	if w := mustGet(t, r, wr.ID); w.State != store.WorkerClosed {
		t.Fatalf("dead run left %s", w.State)
	}
}

// A stopping server detaches from its Jobs: a run whose Job ends during
// shutdown is neither recorded nor reported by it (its caller is not
// answered), and stays open in the store for the next server.
func TestKubeDetachedServerLeavesRunsToTheNext(t *testing.T) {
	gate := t.TempDir()
	c := kubetest.New(t)
	r := newKubeRig(t, c, gatedTerraform(t, gate))
	req := planReq("microservices/alpha/dev", "")
	req.Root = r.root
	res, err := r.d.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Stage, req.Plan = runspec.Apply, res.Plan.File
	done := make(chan error, 1)
	go func() { _, err := r.d.Run(context.Background(), req); done <- err }()
	eventually(t, "the apply to start", func() bool { _, err := os.Stat(filepath.Join(gate, "applying")); return err == nil })
	r.d.Detach()
	c.Kill(runNS, "tfpr-run-2", batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}, nil)
	eventually(t, "the Job to fail", func() bool {
		ok, _ := r.exec.Alive(context.Background(), executor.Handle{Kind: executor.Kubernetes, RunID: 2})
		return !ok
	})
	// Twenty of the dispatcher's polls: an attached dispatcher finds the
	// Job dead within one.
	select {
	case err := <-done:
		t.Fatalf("the detached dispatcher answered the run: %v", err)
	case <-time.After(20 * 50 * time.Millisecond):
	}
	if w := mustGet(t, r, 2); w.State == store.WorkerClosed {
		t.Fatalf("the detached dispatcher closed the run: %+v", w)
	}
	r.restartKube()
	if found, err := r.d.Inspect(context.Background(), mustGet(t, r, 2)); err != nil || found != Dead {
		t.Fatalf("the next server found %v (%v), want dead", found, err)
	}
}
