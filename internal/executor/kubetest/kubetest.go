// Package kubetest is a Kubernetes cluster for tests of the kubernetes
// executor: client-go's fake clientset with a stand-in for the Job
// controller and the kubelet. A created Job's pod is the real `tfpr
// worker`, started on this machine from the pod spec's command, args and
// env (the run token read from the Secret the env names), each emptyDir a
// temporary directory. When the worker exits, the Job gets the condition
// the Job controller would give it.
package kubetest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Cluster is a fake cluster whose Jobs run.
type Cluster struct {
	t *testing.T
	// Client is what the executor under test is given.
	Client *fake.Clientset

	mu    sync.Mutex
	hosts map[string]string
	procs map[string]*os.Process
	jobs  []*batchv1.Job
	// failed, when set for a Job, is the condition its end is given
	// instead of the worker's exit status (a deadline, an eviction).
	failed map[string]batchv1.JobCondition
}

// New returns a cluster; its workers are killed when the test ends.
func New(t *testing.T) *Cluster {
	c := &Cluster{t: t, Client: fake.NewClientset(), hosts: map[string]string{}, procs: map[string]*os.Process{},
		failed: map[string]batchv1.JobCondition{}}
	c.Client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
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

// AddServiceAccounts creates the named service accounts in namespace.
func (c *Cluster) AddServiceAccounts(namespace string, names ...string) {
	for _, n := range names {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: namespace}}
		if _, err := c.Client.CoreV1().ServiceAccounts(namespace).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
}

// Resolve makes host (a Service's name in a URL) reach addr, as the
// cluster's DNS would.
func (c *Cluster) Resolve(host, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hosts[host] = addr
}

func (c *Cluster) resolve(s string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, a := range c.hosts {
		s = strings.ReplaceAll(s, "//"+h+":", "//"+a+":")
	}
	return s
}

func (c *Cluster) runPod(job *batchv1.Job) {
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
		return c.resolve(s)
	}
	// PATH is the image's; the access token stands in for what GKE's
	// metadata server gives a pod of that service account.
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "GOOGLE_OAUTH_ACCESS_TOKEN=workload-identity-" + pod.ServiceAccountName}
	for _, v := range ctr.Env {
		val := local(v.Value)
		if ref := v.ValueFrom; ref != nil {
			sec, err := c.Client.CoreV1().Secrets(job.Namespace).Get(ctx, ref.SecretKeyRef.Name, metav1.GetOptions{})
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
func (c *Cluster) end(job *batchv1.Job, code int, msg string) {
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
	cur, err := c.Client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		return
	}
	cur.Status.Conditions = append(cur.Status.Conditions, cond)
	c.Client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
}

// Kill ends job's pod the way Kubernetes does when cond happens; pod,
// when given, is created as what the pod's status then says.
func (c *Cluster) Kill(namespace, job string, cond batchv1.JobCondition, pod *corev1.Pod) {
	c.mu.Lock()
	c.failed[job] = cond
	p := c.procs[job]
	c.mu.Unlock()
	if p == nil {
		c.t.Fatalf("Job %s has no running pod", job)
	}
	if pod != nil {
		pod.Namespace = namespace
		if _, err := c.Client.CoreV1().Pods(namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
	p.Signal(syscall.SIGKILL)
}

// Created lists the Jobs created so far, as they were created.
func (c *Cluster) Created() []*batchv1.Job {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*batchv1.Job(nil), c.jobs...)
}
