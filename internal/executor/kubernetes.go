package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// KubeOptions configures the kubernetes executor.
type KubeOptions struct {
	Client    kubernetes.Interface
	Namespace string
	// Image is tfpr's image, which carries terraform.
	Image string
	// WorkerBin (tfpr-worker, or tfpr) and TerraformBin are paths inside
	// the image.
	WorkerBin    string
	TerraformBin string
	// ServiceAccount and PlanServiceAccount are the Kubernetes service
	// account templates ({service}, {env}) for applies (and unlocks) and
	// for plans.
	ServiceAccount     string
	PlanServiceAccount string
	Pod                PodTemplate
	// TTL is how long a finished Job (and its pod's log) is kept.
	TTL time.Duration
	Log *slog.Logger
}

// KubeExec runs each worker as a Job in one namespace. Jobs outlive the
// server's pod; a restarted server finds them by their labels.
type KubeExec struct {
	opts KubeOptions
	jobs string // label selector of every run Job of this executor
}

// NewKube checks the options.
func NewKube(o KubeOptions) (*KubeExec, error) {
	var errs []error
	if o.Client == nil {
		errs = append(errs, errors.New("no Kubernetes client"))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("TFPR_RUN_NAMESPACE is required with TFPR_EXECUTOR=kubernetes"))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("TFPR_RUN_IMAGE is required with TFPR_EXECUTOR=kubernetes"))
	}
	if o.WorkerBin == "" || o.TerraformBin == "" {
		errs = append(errs, errors.New("the worker and terraform paths inside the run image are required"))
	}
	if err := CheckServiceAccountTemplate("TFPR_RUN_SERVICE_ACCOUNT_TEMPLATE", o.ServiceAccount); err != nil {
		errs = append(errs, err)
	}
	if err := CheckServiceAccountTemplate("TFPR_RUN_PLAN_SERVICE_ACCOUNT_TEMPLATE", o.PlanServiceAccount); err != nil {
		errs = append(errs, err)
	}
	if o.TTL < 0 || o.TTL > 365*24*time.Hour {
		errs = append(errs, fmt.Errorf("TFPR_RUN_TTL %s: want from 0 to a year", o.TTL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: managedBy, LabelComponent: component}).String()
	return &KubeExec{opts: o, jobs: sel}, nil
}

// Kind is Kubernetes.
func (e *KubeExec) Kind() Kind { return Kubernetes }

// serviceAccount is the account a stage runs as: plans read only.
func (e *KubeExec) serviceAccount(l Launch) (string, error) {
	tmpl := e.opts.ServiceAccount
	if l.Stage == "plan" {
		tmpl = e.opts.PlanServiceAccount
	}
	return ServiceAccountFor(tmpl, l.Project)
}

// Start creates the run's Secret (its token), then its Job, then makes the
// Job the Secret's owner. The Secret comes first so the pod never waits
// for it; should any step fail, what was created is deleted again.
func (e *KubeExec) Start(ctx context.Context, l Launch) (Handle, error) {
	sa, err := e.serviceAccount(l)
	if err != nil {
		return Handle{}, err
	}
	ns, name := e.opts.Namespace, JobName(l.RunID)
	// A Job whose service account is missing creates no pod and would sit
	// active until its deadline: say so now. Without the right to look,
	// the Job's own failure tells.
	if _, err := e.opts.Client.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return Handle{}, fmt.Errorf("%s %s: Kubernetes service account %s/%s does not exist; create it, bound by Workload Identity to the service's Google account", l.Stage, l.Project, ns, sa)
	}
	secrets, jobs := e.opts.Client.CoreV1().Secrets(ns), e.opts.Client.BatchV1().Jobs(ns)
	if _, err := secrets.Create(ctx, e.buildSecret(l), metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Run ids come from this server's store: another tfpr (or this
			// one with a new data dir) uses the namespace.
			return Handle{}, fmt.Errorf("start worker for run %d: Secret %s/%s already exists: give each tfpr (each data dir) its own TFPR_RUN_NAMESPACE", l.RunID, ns, name)
		}
		return Handle{}, fmt.Errorf("start worker for run %d: create Secret %s/%s: %w", l.RunID, ns, name, err)
	}
	// Cleanup must happen even when ctx is what failed.
	cleanup := context.WithoutCancel(ctx)
	job, err := jobs.Create(ctx, e.buildJob(l, sa), metav1.CreateOptions{})
	if err != nil {
		secrets.Delete(cleanup, name, metav1.DeleteOptions{})
		return Handle{}, fmt.Errorf("start worker for run %d: create Job %s/%s: %w", l.RunID, ns, name, err)
	}
	owner := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":%q,"uid":%q}]}}`, job.Name, job.UID)
	if _, err := secrets.Patch(ctx, name, types.MergePatchType, []byte(owner), metav1.PatchOptions{}); err != nil {
		jobs.Delete(cleanup, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)})
		secrets.Delete(cleanup, name, metav1.DeleteOptions{})
		return Handle{}, fmt.Errorf("start worker for run %d: make Job %s/%s own its Secret: %w", l.RunID, ns, name, err)
	}
	e.opts.Log.Info("worker Job created", "run", l.RunID, "job", name, "namespace", ns, "service_account", sa, "stage", l.Stage, "project", l.Project)
	return Handle{Kind: Kubernetes, RunID: l.RunID, Job: name}, nil
}

// find returns the Job labelled with run id, if there is one.
func (e *KubeExec) find(ctx context.Context, runID int64) (*batchv1.Job, error) {
	sel := e.jobs + "," + LabelRunID + "=" + strconv.FormatInt(runID, 10)
	list, err := e.opts.Client.BatchV1().Jobs(e.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list Jobs of run %d in %s: %w", runID, e.opts.Namespace, err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	return &list.Items[0], nil
}

// Alive reports whether run h's Job is still active: it exists, is not
// being deleted and has not ended.
func (e *KubeExec) Alive(ctx context.Context, h Handle) (bool, error) {
	if h.Kind != Kubernetes {
		return false, fmt.Errorf("run %d: a %s handle is not a Kubernetes Job", h.RunID, h.Kind)
	}
	job, err := e.find(ctx, h.RunID)
	if err != nil || job == nil {
		return false, err
	}
	return active(job), nil
}

// Find returns the handle of run runID's Job found by its labels, and
// whether that Job is still active. It finds a Job whose creation the
// server never got to record.
func (e *KubeExec) Find(ctx context.Context, runID int64) (Handle, bool, error) {
	job, err := e.find(ctx, runID)
	if err != nil || job == nil {
		return Handle{}, false, err
	}
	return Handle{Kind: Kubernetes, RunID: runID, Job: job.Name}, active(job), nil
}

// Active lists the handles of every active run Job in the namespace.
func (e *KubeExec) Active(ctx context.Context) ([]Handle, error) {
	list, err := e.opts.Client.BatchV1().Jobs(e.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: e.jobs})
	if err != nil {
		return nil, fmt.Errorf("list run Jobs in %s: %w", e.opts.Namespace, err)
	}
	var out []Handle
	for i := range list.Items {
		job := &list.Items[i]
		id, err := strconv.ParseInt(job.Labels[LabelRunID], 10, 64)
		if err != nil || id <= 0 || !active(job) {
			continue
		}
		out = append(out, Handle{Kind: Kubernetes, RunID: id, Job: job.Name})
	}
	return out, nil
}

func active(job *batchv1.Job) bool {
	if job.DeletionTimestamp != nil {
		return false
	}
	for _, c := range job.Status.Conditions {
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobFailed, batchv1.JobFailureTarget, batchv1.JobSuccessCriteriaMet:
			if c.Status == corev1.ConditionTrue {
				return false
			}
		}
	}
	return true
}

// maxReason bounds what a Job's or pod's status message adds to an error.
const maxReason = 512

// WhyEnded says why run h's Job ended without a result: the Job's failed
// condition (its deadline, for one) and what became of its pod (evicted,
// OOM-killed, an exit code).
func (e *KubeExec) WhyEnded(ctx context.Context, h Handle) string {
	job, err := e.find(ctx, h.RunID)
	if err != nil {
		return err.Error()
	}
	if job == nil {
		return fmt.Sprintf("Job %s no longer exists in %s", JobName(h.RunID), e.opts.Namespace)
	}
	var parts []string
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobFailed || c.Type == batchv1.JobFailureTarget) && c.Status == corev1.ConditionTrue {
			parts = append(parts, strings.TrimSuffix(fmt.Sprintf("Job %s failed: %s: %s", job.Name, c.Reason, bound(c.Message)), ": "))
			break
		}
	}
	if job.DeletionTimestamp != nil {
		parts = append(parts, fmt.Sprintf("Job %s is being deleted", job.Name))
	}
	sel := e.jobs + "," + LabelRunID + "=" + strconv.FormatInt(h.RunID, 10)
	pods, err := e.opts.Client.CoreV1().Pods(e.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err == nil {
		for _, p := range pods.Items {
			if s := podEnd(&p); s != "" {
				parts = append(parts, s)
			}
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("Job %s ended", job.Name)
	}
	return strings.Join(parts, "; ")
}

// podEnd says how a run's pod ended, or "" when it tells nothing.
func podEnd(p *corev1.Pod) string {
	var parts []string
	if p.Status.Reason != "" {
		parts = append(parts, strings.TrimSuffix(fmt.Sprintf("%s: %s", p.Status.Reason, bound(p.Status.Message)), ": "))
	}
	for _, c := range p.Status.ContainerStatuses {
		if t := c.State.Terminated; t != nil && (t.ExitCode != 0 || t.Reason != "Completed") {
			parts = append(parts, fmt.Sprintf("container %s terminated: %s (exit %d)", c.Name, t.Reason, t.ExitCode))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "pod " + p.Name + ": " + strings.Join(parts, ", ")
}

func bound(s string) string {
	if len(s) > maxReason {
		return s[:maxReason] + "…"
	}
	return s
}
