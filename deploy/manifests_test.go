// Package deploy holds tfpr's Kubernetes manifests, alert rules and
// dashboard; its tests check them against the Kubernetes API types and
// against the metrics tfpr registers.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// newObject returns the API type for a manifest's apiVersion and kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "rbac.authorization.k8s.io/v1/Role":
		return &rbacv1.Role{}, nil
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	}
	return nil, fmt.Errorf("no API type known for apiVersion %q kind %q", apiVersion, kind)
}

// object is one decoded manifest and where it came from.
type object struct {
	where string // file and document number
	kind  string
	obj   any
}

// decodeAll splits a multi-document YAML stream and decodes each document
// strictly into its API type: an unknown or misspelt field is an error.
func decodeAll(name string, raw []byte) ([]object, error) {
	var out []object
	var errs []error
	for i, doc := range splitDocs(raw) {
		where := fmt.Sprintf("%s (document %d)", name, i+1)
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", where, tm.Kind, err))
			continue
		}
		out = append(out, object{where: where, kind: tm.Kind, obj: obj})
	}
	return out, errors.Join(errs...)
}

func splitDocs(raw []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), raw...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(d []byte) []byte {
	var b bytes.Buffer
	for _, l := range bytes.Split(d, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			b.Write(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Every manifest under base/ and overlays/ (but the kustomizations, which
// are kustomize's, not the API's) decodes strictly into its API type.
func TestManifestsDecodeStrictly(t *testing.T) {
	n := 0
	for _, root := range []string{"base", "overlays"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || d.Name() == "kustomization.yaml" {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			objs, err := decodeAll(path, raw)
			if err != nil {
				t.Error(err)
			}
			n += len(objs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 9 {
		t.Errorf("decoded %d manifests, want the base's 9 kinds at least", n)
	}
}

// A misspelt field is caught, so the test above can fail.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	_, err := decodeAll("bad.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selectr: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "selectr") || !strings.Contains(err.Error(), "bad.yaml (document 1)") {
		t.Fatalf("unknown field: err = %v, want it named with its file", err)
	}
	if _, err := decodeAll("k.yaml", []byte("apiVersion: v1\nkind: Secret\n")); err == nil {
		t.Fatal("a kind the test has no type for was accepted")
	}
}

// kubectl kustomize renders the example overlay, and what it renders is a
// deployable tfpr: probes on /healthz and /readyz, non-root, read-only root,
// the data dir on the claim, Workload Identity, the executor's rights in the
// run namespace only, the generated settings wired in.
func TestExampleOverlayRenders(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kubectl is not installed; .ci/run installs Debian's kubectl")
		}
		t.Skip("kubectl is not installed (Debian package kubectl); .ci/run installs it")
	}
	out, err := exec.Command(kubectl, "kustomize", "overlays/example").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize overlays/example: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	objs, err := decodeAll("kubectl kustomize overlays/example", out)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string][]any{}
	for _, o := range objs {
		byKind[o.kind] = append(byKind[o.kind], o.obj)
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Role", "RoleBinding", "ConfigMap"} {
		if len(byKind[k]) == 0 {
			t.Errorf("rendered overlay has no %s", k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	checkDeployment(t, byKind["Deployment"][0].(*appsv1.Deployment), byKind["ConfigMap"][0].(*corev1.ConfigMap))
	sa := byKind["ServiceAccount"][0].(*corev1.ServiceAccount)
	if got := sa.Annotations["iam.gke.io/gcp-service-account"]; got != "tfpr@acme-platform.iam.gserviceaccount.com" {
		t.Errorf("ServiceAccount Workload Identity annotation = %q, want the overlay's account", got)
	}
	for _, r := range byKind["Role"] {
		role := r.(*rbacv1.Role)
		if role.Namespace != "tfpr-runs" {
			t.Errorf("Role %s is in namespace %q, want only tfpr-runs", role.Name, role.Namespace)
		}
		secrets := false
		for _, rule := range role.Rules {
			for _, res := range rule.Resources {
				switch res {
				case "jobs", "pods", "pods/log":
				case "secrets":
					// Each Job's run token is a Secret tfpr writes and the
					// Job owns; tfpr never reads a Secret back.
					secrets = true
					for _, v := range rule.Verbs {
						if v != "create" && v != "patch" && v != "delete" {
							t.Errorf("Role %s may %s secrets; the executor only creates, patches (owner) and deletes them", role.Name, v)
						}
					}
				default:
					t.Errorf("Role %s grants %v on %q; the executor needs jobs, pods, pods/log and secrets only", role.Name, rule.Verbs, res)
				}
			}
		}
		if !secrets {
			t.Errorf("Role %s cannot create the Secret that carries a Job's run token", role.Name)
		}
	}
	rb := byKind["RoleBinding"][0].(*rbacv1.RoleBinding)
	if rb.Namespace != "tfpr-runs" || len(rb.Subjects) != 1 || rb.Subjects[0].Name != sa.Name || rb.Subjects[0].Namespace != sa.Namespace {
		t.Errorf("RoleBinding %s/%s binds %+v, want tfpr's ServiceAccount %s/%s in tfpr-runs", rb.Namespace, rb.Name, rb.Subjects, sa.Namespace, sa.Name)
	}
}

func checkDeployment(t *testing.T, d *appsv1.Deployment, cm *corev1.ConfigMap) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("Deployment replicas = %v, want 1 (tfpr locks its data dir)", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod does not require a non-root user")
	}
	c := pod.Containers[0]
	if c.Image != "europe-docker.pkg.dev/acme-platform/tfpr/tfpr:v1.0.0" {
		t.Errorf("image = %q, want the overlay's", c.Image)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe = %+v, want GET /readyz", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe = %+v, want GET /healthz", c.LivenessProbe)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context = %+v, want a read-only root and no privilege escalation", sc)
	}
	// A pod's sandboxed workers die with it: a rollout must wait out a
	// whole run (TFPR_RUN_BUDGET, 1h unless set) and the shutdown grace.
	for _, k := range []string{"TFPR_RUN_BUDGET", "TFPR_SHUTDOWN_GRACE"} {
		v, ok := cm.Data[k]
		if !ok {
			v = map[string]string{"TFPR_RUN_BUDGET": "1h", "TFPR_SHUTDOWN_GRACE": "30m"}[k]
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Errorf("%s=%q: %v", k, v, err)
			continue
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < d {
			t.Errorf("terminationGracePeriodSeconds is shorter than %s %s: a rollout would kill running applies", k, v)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want CPU requests and a memory limit", c.Resources)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name && m.MountPath == env["TFPR_DATA_DIR"] {
					claim = v.PersistentVolumeClaim.ClaimName
				}
			}
		}
	}
	if claim == "" {
		t.Errorf("TFPR_DATA_DIR %q is not on a PersistentVolumeClaim", env["TFPR_DATA_DIR"])
	}
	var fromConfig bool
	for _, ef := range c.EnvFrom {
		fromConfig = fromConfig || (ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == cm.Name)
	}
	if !fromConfig {
		t.Errorf("container envFrom %+v does not name the generated ConfigMap %s", c.EnvFrom, cm.Name)
	}
	for k := range cm.Data {
		if !strings.HasPrefix(k, "TFPR_") {
			t.Errorf("ConfigMap key %q is not a TFPR_ setting", k)
		}
		if strings.Contains(k, "SECRET") || strings.Contains(k, "PRIVATE_KEY") && !strings.HasSuffix(k, "_FILE") {
			t.Errorf("ConfigMap holds %s; secrets belong in the tfpr-github Secret", k)
		}
	}
}
