package executor

import (
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/runspec"
)

// Labels every run's Job, pod and Secret carry. Values are bounded: the
// run id is a number, the stage one of three words, service and env are
// added only when they are valid label values.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	LabelRunID     = "tfpr.dev/run-id"
	LabelStage     = "tfpr.dev/stage"
	LabelService   = "tfpr.dev/service"
	LabelEnv       = "tfpr.dev/env"
	// AnnotationProject holds the project's directory, which can be
	// longer than a label value may be.
	AnnotationProject = "tfpr.dev/project"

	managedBy = "tfpr"
	component = "worker"
	// tokenKey is the run token's key in the run's Secret.
	tokenKey = "token"
	// runUID is the non-root user the worker runs as (the distroless
	// "nonroot" user); the pod template may not change it to root.
	runUID = 65532
)

// PodTemplate is the operator's part of every run's pod, read from a file
// (a ConfigMap mounted into the server's pod): where runs may be scheduled
// and what they may use. Everything that bears on isolation (identity,
// security context, volumes, command) is tfpr's, not the template's.
type PodTemplate struct {
	Resources         corev1.ResourceRequirements `json:"resources,omitempty"`
	NodeSelector      map[string]string           `json:"nodeSelector,omitempty"`
	Tolerations       []corev1.Toleration         `json:"tolerations,omitempty"`
	PriorityClassName string                      `json:"priorityClassName,omitempty"`
	// Annotations are added to the pod (e.g. to keep a service mesh's
	// sidecar out of run pods, which would keep a Job from ending).
	Annotations map[string]string `json:"annotations,omitempty"`
}

// maxTemplateBytes bounds the pod template file.
const maxTemplateBytes = 1 << 20

// ReadPodTemplate reads a PodTemplate from a YAML or JSON file. Unknown
// fields are errors, so a misspelt nodeSelector is not silently ignored.
func ReadPodTemplate(path string) (PodTemplate, error) {
	var t PodTemplate
	if path == "" {
		return t, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return t, fmt.Errorf("run pod template: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return t, fmt.Errorf("run pod template %s: %w", path, err)
	}
	if len(b) > maxTemplateBytes {
		return t, fmt.Errorf("run pod template %s is larger than %d bytes", path, maxTemplateBytes)
	}
	if err := yaml.UnmarshalStrict(b, &t); err != nil {
		return t, fmt.Errorf("run pod template %s: %w (known fields: resources, nodeSelector, tolerations, priorityClassName, annotations)", path, err)
	}
	for k := range t.Annotations {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return t, fmt.Errorf("run pod template %s: annotation key %q: %s", path, k, strings.Join(errs, "; "))
		}
	}
	for k, v := range t.NodeSelector {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return t, fmt.Errorf("run pod template %s: nodeSelector key %q: %s", path, k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return t, fmt.Errorf("run pod template %s: nodeSelector %s value %q: %s", path, k, v, strings.Join(errs, "; "))
		}
	}
	return t, nil
}

// JobName is the name of run id's Job and of its Secret.
func JobName(runID int64) string { return HostnameFor(runID) }

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// ServiceAccountFor expands a Kubernetes service account template
// ({service}, {env}) for project dir and checks the result is a name
// Kubernetes accepts.
func ServiceAccountFor(tmpl, dir string) (string, error) {
	service, env, ok := project.ServiceEnv(dir)
	if !ok {
		return "", fmt.Errorf("project %s is not microservices/<service>/<env>, so tfpr cannot tell which Kubernetes service account runs it", dir)
	}
	name := strings.NewReplacer("{service}", service, "{env}", env).Replace(tmpl)
	if p := placeholderRE.FindString(name); p != "" {
		return "", fmt.Errorf("service account template %q: unknown placeholder %s (known: {service} {env})", tmpl, p)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("service account %q (template %q, project %s) is not a Kubernetes name: %s", name, tmpl, dir, strings.Join(errs, "; "))
	}
	return name, nil
}

// CheckServiceAccountTemplate reports a template that can name no valid
// service account, with a sample project.
func CheckServiceAccountTemplate(env, tmpl string) error {
	if tmpl == "" {
		return fmt.Errorf("%s is empty", env)
	}
	if _, err := ServiceAccountFor(tmpl, "microservices/svc/dev"); err != nil {
		return fmt.Errorf("%s: %w", env, err)
	}
	return nil
}

// Deadline is a run's activeDeadlineSeconds: its budget plus the grace in
// which the worker still delivers a result (a timed-out run's included),
// the same bound the dispatcher waits for.
func Deadline(budget time.Duration) int64 {
	if budget <= 0 || budget > runspec.MaxBudget {
		budget = runspec.MaxBudget
	}
	return int64((budget + runspec.Grace) / time.Second)
}

// runLabels identify a run's Job, pod and Secret.
func runLabels(l Launch) map[string]string {
	m := map[string]string{LabelManagedBy: managedBy, LabelComponent: component,
		LabelRunID: strconv.FormatInt(l.RunID, 10), LabelStage: l.Stage}
	if service, env, ok := project.ServiceEnv(l.Project); ok {
		if len(validation.IsValidLabelValue(service)) == 0 {
			m[LabelService] = service
		}
		if len(validation.IsValidLabelValue(env)) == 0 {
			m[LabelEnv] = env
		}
	}
	return m
}

// Volumes the worker writes to; the root filesystem is read-only.
var scratchMounts = []struct{ name, path string }{{"run", sandboxDir}, {"tmp", "/tmp"}, {"home", "/home/tfpr"}}

// buildJob is the Job of one run. The token is not in it: the pod reads it
// from the run's Secret (named like the Job).
func (e *KubeExec) buildJob(l Launch, serviceAccount string) *batchv1.Job {
	o := e.opts
	name := JobName(l.RunID)
	labels := runLabels(l)
	args := []string{"worker", "--server", l.ServerURL, "--run", strconv.FormatInt(l.RunID, 10), "--dir", sandboxDir,
		"--terraform-bin", o.TerraformBin}
	env := []corev1.EnvVar{
		{Name: runspec.TokenEnv, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: tokenKey, Optional: new(false)}}},
	}
	base := maps.Clone(l.Env)
	if base == nil {
		base = map[string]string{}
	}
	base["HOME"], base["TMPDIR"] = "/home/tfpr", "/tmp"
	for _, k := range slices.Sorted(maps.Keys(base)) {
		if k != runspec.TokenEnv {
			env = append(env, corev1.EnvVar{Name: k, Value: base[k]})
		}
	}
	var mounts []corev1.VolumeMount
	var vols []corev1.Volume
	for _, m := range scratchMounts {
		mounts = append(mounts, corev1.VolumeMount{Name: m.name, MountPath: m.path})
		vols = append(vols, corev1.Volume{Name: m.name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	podAnn := maps.Clone(o.Pod.Annotations)
	if podAnn == nil {
		podAnn = map[string]string{}
	}
	podAnn[AnnotationProject] = l.Project
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels,
			Annotations: map[string]string{AnnotationProject: l.Project}},
		Spec: batchv1.JobSpec{
			// A run is never retried by Kubernetes: its token is single-use
			// and a second apply must go through a fresh plan.
			BackoffLimit:            new(int32(0)),
			Completions:             new(int32(1)),
			Parallelism:             new(int32(1)),
			ActiveDeadlineSeconds:   new(Deadline(l.Budget)),
			TTLSecondsAfterFinished: new(int32(o.TTL / time.Second)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels), Annotations: podAnn},
				Spec: corev1.PodSpec{
					RestartPolicy:      corev1.RestartPolicyNever,
					ServiceAccountName: serviceAccount,
					// Workload Identity needs no Kubernetes API token; without
					// one, terraform cannot talk to the cluster at all.
					AutomountServiceAccountToken: new(false),
					// Service links would hand terraform every service's
					// address in its environment.
					EnableServiceLinks: new(false),
					// terraform records user@hostname as a state lock's holder.
					Hostname:          name,
					NodeSelector:      maps.Clone(o.Pod.NodeSelector),
					Tolerations:       slices.Clone(o.Pod.Tolerations),
					PriorityClassName: o.Pod.PriorityClassName,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: new(true), RunAsUser: new(int64(runUID)), RunAsGroup: new(int64(runUID)),
						FSGroup: new(int64(runUID)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            component,
						Image:           o.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{o.WorkerBin},
						Args:            args,
						WorkingDir:      sandboxDir,
						Env:             env,
						Resources:       *o.Pod.Resources.DeepCopy(),
						VolumeMounts:    mounts,
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot: new(true), AllowPrivilegeEscalation: new(false), ReadOnlyRootFilesystem: new(true),
							Privileged: new(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: vols,
				},
			},
		},
	}
}

// buildSecret holds run l's token; it is made owned by the Job once the
// Job exists, so Kubernetes deletes it with the Job.
func (e *KubeExec) buildSecret(l Launch) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: JobName(l.RunID), Namespace: e.opts.Namespace, Labels: runLabels(l)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{tokenKey: []byte(l.Token)},
		Immutable:  new(true),
	}
}
