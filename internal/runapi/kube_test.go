package runapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

const runNS = "tfpr-runs"

// cluster is client-go's fake clientset with a stand-in for the Job
// controller and kubelet: a created Job's pod is the real `tfpr worker`,
// started on this machine from the pod spec's command, args and env (the
// token read from the Secret the env names), each emptyDir a temp dir.
// When the worker exits the Job gets the condition the controller would
// set.
type cluster struct {
	t  *testing.T
	cs *fake.Clientset

	mu    sync.Mutex
	procs map[string]*os.Process
	jobs  []*batchv1.Job // as created
	// failed, when set for a Job, is the condition its end is given
	// instead of the worker's exit status (a deadline, an eviction).
	failed map[string]batchv1.JobCondition
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, cs: fake.NewClientset(), procs: map[string]*os.Process{}, failed: map[string]batchv1.JobCondition{}}
	c.cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		job := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		job.UID = types.UID("uid-" + job.Name)
		c.mu.Lock()
		c.jobs = append(c.jobs, job.DeepCopy())
		c.mu.Unlock()
		go c.runPod(job.DeepCopy())
		return false, nil, nil
	})
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.procs {
			p.Kill()
		}
	})
	return c
}

func (c *cluster) runPod(job *batchv1.Job) {
	ctx := context.Background()
	pod := job.Spec.Template.Spec
	ctr := pod.Containers[0]
	dirs := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		dirs[m.MountPath] = c.t.TempDir()
	}
	local := func(s string) string {
		if d, ok := dirs[s]; ok {
			return d
		}
		return s
	}
	// PATH is the image's; the access token stands in for what GKE's
	// metadata server gives a pod of that service account.
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "GOOGLE_OAUTH_ACCESS_TOKEN=workload-identity-" + pod.ServiceAccountName}
	for _, v := range ctr.Env {
		val := local(v.Value)
		if ref := v.ValueFrom; ref != nil {
			sec, err := c.cs.CoreV1().Secrets(job.Namespace).Get(ctx, ref.SecretKeyRef.Name, metav1.GetOptions{})
			if err != nil {
				c.end(job, 1, "CreateContainerConfigError: "+err.Error())
				return
			}
			val = string(sec.Data[ref.SecretKeyRef.Key])
		}
		env = append(env, v.Name+"="+val)
	}
	var args []string
	for _, a := range ctr.Args {
		args = append(args, local(a))
	}
	cmd := exec.Command(ctr.Command[0], args...)
	cmd.Env, cmd.Dir = env, local(ctr.WorkingDir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		c.end(job, 1, err.Error())
		return
	}
	c.mu.Lock()
	c.procs[job.Name] = cmd.Process
	c.mu.Unlock()
	cmd.Wait()
	c.end(job, cmd.ProcessState.ExitCode(), "")
}

// end records the Job's end as its controller would.
func (c *cluster) end(job *batchv1.Job, code int, msg string) {
	ctx := context.Background()
	cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
	if code != 0 {
		cond = batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
			Message: "Job has reached the specified backoff limit " + msg}
	}
	c.mu.Lock()
	if f, ok := c.failed[job.Name]; ok {
		cond = f
	}
	c.mu.Unlock()
	cur, err := c.cs.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		return
	}
	cur.Status.Conditions = append(cur.Status.Conditions, cond)
	c.cs.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
}

// kill ends job's pod the way Kubernetes does when cond happens, with
// pod as what its status then says.
func (c *cluster) kill(job string, cond batchv1.JobCondition, pod *corev1.Pod) {
	c.mu.Lock()
	c.failed[job] = cond
	p := c.procs[job]
	c.mu.Unlock()
	if p == nil {
		c.t.Fatalf("Job %s has no running pod", job)
	}
	if pod != nil {
		pod.Namespace = runNS
		if _, err := c.cs.CoreV1().Pods(runNS).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
	p.Signal(syscall.SIGKILL)
}

func (c *cluster) created() []*batchv1.Job {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*batchv1.Job(nil), c.jobs...)
}

// newKubeRig is the rig with the kubernetes executor on c. No minter: the
// pods run as their service's own account.
func newKubeRig(t *testing.T, c *cluster, tfBin string) *rig {
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
		ex, err := executor.NewKube(executor.KubeOptions{Client: c.cs, Namespace: runNS, Image: "tfpr:test",
			WorkerBin: testenv.TfprBinary(t), TerraformBin: tfBin, ServiceAccount: "tf-{service}-{env}",
			PlanServiceAccount: "tf-ro-{service}-{env}", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
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
	c := newCluster(t)
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
	jobs := c.created()
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
// way a server that stops does.
func startOrphanKubeApply(t *testing.T, r *rig, gate string) store.WorkerRun {
	t.Helper()
	req := planReq("microservices/alpha/dev", "")
	req.Root = r.root
	res, err := r.d.Run(context.Background(), req)
	if err != nil || res.Status != runspec.Succeeded {
		t.Fatalf("plan: %v %+v", err, res)
	}
	req.Stage, req.Plan = runspec.Apply, res.Plan.File
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := r.d.Run(ctx, req); done <- err }()
	eventually(t, "the apply to start", func() bool { _, err := os.Stat(filepath.Join(gate, "applying")); return err == nil })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned run returned %v", err)
	}
	r.srv.Close()
	open, err := r.store.OpenWorkerRuns(context.Background())
	if err != nil || len(open) != 1 || open[0].Stage != "apply" {
		t.Fatalf("open runs after the server stopped: %v %+v", err, open)
	}
	return open[0]
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
			c := newCluster(t)
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
			found, err := r.d.Inspect(context.Background(), wr)
			if err != nil || found != Alive {
				t.Fatalf("restarted server found the running Job %v (%v), want alive", found, err)
			}
			os.WriteFile(filepath.Join(gate, "go"), nil, 0o600)
			res, err := r.d.Wait(context.Background(), wr)
			if err != nil || res.Status != runspec.Succeeded || !strings.Contains(res.Output, "Apply complete!") {
				t.Fatalf("adopted apply: %v %+v", err, res)
			}
			if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); !strings.Contains(string(st), `"alpha"`) {
				t.Fatalf("state after the adopted apply:\n%s", st)
			}
			if n := len(c.created()); n != 2 {
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
			c := newCluster(t)
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
				tc.pod.Labels = c.created()[1].Spec.Template.Labels
			}
			c.kill("tfpr-run-2", tc.cond, tc.pod)
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
	c := newCluster(t)
	r := newKubeRig(t, c, gatedTerraform(t, gate))
	wr := startOrphanKubeApply(t, r, gate)
	c.kill("tfpr-run-2", batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}, nil)
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
