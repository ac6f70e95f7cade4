package executor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tfpr/tfpr/internal/runspec"
)

func kubeOpts(t *testing.T) KubeOptions {
	t.Helper()
	tmpl := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(tmpl, []byte(`resources:
  requests: {cpu: 500m, memory: 1Gi}
  limits: {memory: 2Gi}
nodeSelector:
  pool: terraform
tolerations:
- {key: dedicated, operator: Equal, value: terraform, effect: NoSchedule}
`), 0o600)
	pod, err := ReadPodTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var sas []runtime.Object
	for _, n := range []string{"tf-alpha-dev", "tf-ro-beta-prod"} {
		sas = append(sas, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "tfpr-runs"}})
	}
	return KubeOptions{Client: fake.NewClientset(sas...), Namespace: "tfpr-runs", Image: "ghcr.io/acme/tfpr:1.2.3",
		WorkerBin: "/usr/local/bin/tfpr-worker", TerraformBin: "/usr/local/bin/terraform",
		ServiceAccount: "tf-{service}-{env}", PlanServiceAccount: "tf-ro-{service}-{env}", Pod: pod, TTL: time.Hour}
}

func TestKubeJobSpec(t *testing.T) {
	o := kubeOpts(t)
	e, err := NewKube(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const token = "run-token-s3cret"
	l := Launch{RunID: 42, Token: token, ServerURL: "http://tfpr-internal.tfpr:8081", Stage: "apply",
		Project: "microservices/alpha/dev", Budget: 30 * time.Minute, Env: map[string]string{"HTTPS_PROXY": "http://proxy:3128"}}
	h, err := e.Start(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if h != (Handle{Kind: Kubernetes, RunID: 42, Job: "tfpr-run-42"}) {
		t.Fatalf("handle %+v", h)
	}
	job, err := o.Client.BatchV1().Jobs("tfpr-runs").Get(ctx, "tfpr-run-42", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	wantLabels := map[string]string{"app.kubernetes.io/managed-by": "tfpr", "app.kubernetes.io/component": "worker",
		"tfpr.dev/run-id": "42", "tfpr.dev/stage": "apply", "tfpr.dev/service": "alpha", "tfpr.dev/env": "dev"}
	var tokenFrom *corev1.SecretKeySelector
	env := map[string]string{}
	for _, v := range c.Env {
		if v.ValueFrom != nil {
			tokenFrom = v.ValueFrom.SecretKeyRef
			if v.Name != runspec.TokenEnv {
				t.Errorf("env %s comes from a Secret", v.Name)
			}
			continue
		}
		env[v.Name] = v.Value
	}
	for _, tc := range []struct {
		field     string
		got, want any
	}{
		{"namespace", job.Namespace, "tfpr-runs"},
		{"job labels", job.Labels, wantLabels},
		{"pod labels", job.Spec.Template.Labels, wantLabels},
		{"project annotation", job.Annotations[AnnotationProject], "microservices/alpha/dev"},
		{"backoffLimit", *job.Spec.BackoffLimit, int32(0)},
		{"activeDeadlineSeconds (budget + grace)", *job.Spec.ActiveDeadlineSeconds, int64(30*60 + 15*60)},
		{"ttlSecondsAfterFinished", *job.Spec.TTLSecondsAfterFinished, int32(3600)},
		{"restartPolicy", pod.RestartPolicy, corev1.RestartPolicyNever},
		{"serviceAccountName", pod.ServiceAccountName, "tf-alpha-dev"},
		{"automountServiceAccountToken", *pod.AutomountServiceAccountToken, false},
		{"enableServiceLinks", *pod.EnableServiceLinks, false},
		{"hostname (the state lock's holder)", pod.Hostname, "tfpr-run-42"},
		{"runAsNonRoot", *pod.SecurityContext.RunAsNonRoot, true},
		{"runAsUser", *pod.SecurityContext.RunAsUser, int64(65532)},
		{"seccomp", pod.SecurityContext.SeccompProfile.Type, corev1.SeccompProfileTypeRuntimeDefault},
		{"nodeSelector", pod.NodeSelector, map[string]string{"pool": "terraform"}},
		{"tolerations", pod.Tolerations, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "terraform", Effect: corev1.TaintEffectNoSchedule}}},
		{"image", c.Image, "ghcr.io/acme/tfpr:1.2.3"},
		{"command", c.Command, []string{"/usr/local/bin/tfpr-worker"}},
		{"args", c.Args, []string{"worker", "--server", "http://tfpr-internal.tfpr:8081", "--run", "42", "--dir", "/run/tfpr", "--terraform-bin", "/usr/local/bin/terraform"}},
		{"readOnlyRootFilesystem", *c.SecurityContext.ReadOnlyRootFilesystem, true},
		{"allowPrivilegeEscalation", *c.SecurityContext.AllowPrivilegeEscalation, false},
		{"capabilities dropped", c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}},
		{"cpu request", c.Resources.Requests.Cpu().String(), "500m"},
		{"memory limit", c.Resources.Limits.Memory().Cmp(resource.MustParse("2Gi")), 0},
		{"token from the run's Secret", tokenFrom, &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "tfpr-run-42"}, Key: "token", Optional: new(false)}},
		{"env", env, map[string]string{"HTTPS_PROXY": "http://proxy:3128", "HOME": "/home/tfpr", "TMPDIR": "/tmp"}},
		{"writable mounts", mountPaths(c.VolumeMounts), []string{"/run/tfpr", "/tmp", "/home/tfpr"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.field, tc.got, tc.want)
		}
	}
	for _, v := range pod.Volumes {
		if v.EmptyDir == nil {
			t.Errorf("volume %s is not an emptyDir: %+v", v.Name, v.VolumeSource)
		}
	}
	spec, _ := json.Marshal(job)
	if strings.Contains(string(spec), token) {
		t.Fatalf("the run token is in the Job spec:\n%s", spec)
	}
	sec, err := o.Client.CoreV1().Secrets("tfpr-runs").Get(ctx, "tfpr-run-42", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["token"]) != token || len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].Kind != "Job" ||
		sec.OwnerReferences[0].Name != "tfpr-run-42" || !reflect.DeepEqual(sec.Labels, wantLabels) {
		t.Fatalf("run Secret: owners %+v labels %v", sec.OwnerReferences, sec.Labels)
	}
}

func mountPaths(ms []corev1.VolumeMount) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.MountPath)
	}
	return out
}

func TestKubePlanRunsAsReadOnlyAccount(t *testing.T) {
	o := kubeOpts(t)
	e, _ := NewKube(o)
	ctx := context.Background()
	if _, err := e.Start(ctx, Launch{RunID: 1, Token: "t", ServerURL: "http://x", Stage: "plan", Project: "microservices/beta/prod"}); err != nil {
		t.Fatal(err)
	}
	job, _ := o.Client.BatchV1().Jobs("tfpr-runs").Get(ctx, "tfpr-run-1", metav1.GetOptions{})
	if sa := job.Spec.Template.Spec.ServiceAccountName; sa != "tf-ro-beta-prod" {
		t.Fatalf("plan runs as %q, want tf-ro-beta-prod", sa)
	}
	if _, err := e.Start(ctx, Launch{RunID: 1, Token: "t2", ServerURL: "http://x", Stage: "plan", Project: "microservices/beta/prod"}); err == nil ||
		!strings.Contains(err.Error(), "Secret tfpr-runs/tfpr-run-1 already exists: give each tfpr (each data dir) its own TFPR_RUN_NAMESPACE") {
		t.Fatalf("a second run 1 in the namespace: %v", err)
	}
	if _, err := e.Start(ctx, Launch{RunID: 2, Token: "t", ServerURL: "http://x", Stage: "plan", Project: "modules/net"}); err == nil ||
		!strings.Contains(err.Error(), "modules/net is not microservices/<service>/<env>") {
		t.Fatalf("a project without a service got %v", err)
	}
	if _, err := o.Client.BatchV1().Jobs("tfpr-runs").Get(ctx, "tfpr-run-2", metav1.GetOptions{}); err == nil {
		t.Fatal("a Job was created for a project with no service account")
	}
	_, err := e.Start(ctx, Launch{RunID: 3, Token: "t", ServerURL: "http://x", Stage: "plan", Project: "microservices/gamma/dev"})
	if err == nil || !strings.Contains(err.Error(), "plan microservices/gamma/dev: Kubernetes service account tfpr-runs/tf-ro-gamma-dev does not exist") {
		t.Fatalf("a missing service account: %v", err)
	}
	if _, err := o.Client.CoreV1().Secrets("tfpr-runs").Get(ctx, "tfpr-run-3", metav1.GetOptions{}); err == nil {
		t.Fatal("a Secret was left for a run that could not start")
	}
}

func TestKubeAliveFollowsJobConditions(t *testing.T) {
	o := kubeOpts(t)
	e, _ := NewKube(o)
	ctx := context.Background()
	h, err := e.Start(ctx, Launch{RunID: 9, Token: "t", ServerURL: "http://x", Stage: "apply", Project: "microservices/alpha/dev"})
	if err != nil {
		t.Fatal(err)
	}
	if alive, err := e.Alive(ctx, h); !alive || err != nil {
		t.Fatalf("a new Job: alive %v, %v", alive, err)
	}
	if act, err := e.Active(ctx); err != nil || len(act) != 1 || act[0] != h {
		t.Fatalf("active Jobs by label: %+v %v", act, err)
	}
	job, _ := o.Client.BatchV1().Jobs("tfpr-runs").Get(ctx, h.Job, metav1.GetOptions{})
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue,
		Reason: "DeadlineExceeded", Message: "Job was active longer than specified deadline"}}
	o.Client.BatchV1().Jobs("tfpr-runs").UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if alive, err := e.Alive(ctx, h); alive || err != nil {
		t.Fatalf("a failed Job: alive %v, %v", alive, err)
	}
	if why := e.WhyEnded(ctx, h); !strings.Contains(why, "DeadlineExceeded: Job was active longer than specified deadline") {
		t.Fatalf("why: %s", why)
	}
	if act, _ := e.Active(ctx); len(act) != 0 {
		t.Fatalf("a failed Job is listed active: %+v", act)
	}
}

func TestKubeOptionsErrors(t *testing.T) {
	o := kubeOpts(t)
	o.Namespace, o.Image, o.ServiceAccount = "", "", "tf_{service}"
	_, err := NewKube(o)
	for _, want := range []string{"TFPR_RUN_NAMESPACE is required", "TFPR_RUN_IMAGE is required",
		`TFPR_RUN_SERVICE_ACCOUNT_TEMPLATE: service account "tf_svc" (template "tf_{service}"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	bad := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(bad, []byte("nodeSelecter:\n  pool: x\n"), 0o600)
	if _, err := ReadPodTemplate(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "nodeSelecter") {
		t.Fatalf("a misspelt field: %v", err)
	}
	os.WriteFile(bad, []byte("nodeSelector:\n  pool: \"has spaces\"\n"), 0o600)
	if _, err := ReadPodTemplate(bad); err == nil || !strings.Contains(err.Error(), `nodeSelector pool value "has spaces"`) {
		t.Fatalf("a bad nodeSelector value: %v", err)
	}
}
