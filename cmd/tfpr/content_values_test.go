package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/lintcmd"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/testenv"
	"github.com/tfpr/tfpr/policies"
)

// grantsProbe reports, as warnings, every account and grant the
// configuration would create, with the values tfpr evaluated at lint.
const grantsProbe = `# METADATA
# title: grants probe
# custom:
#   id: PROBE
#   severity: warn
package tfpr.hcl.grants_probe

import data.tfpr.lib

warn contains {"msg": sprintf("account %v", [r.values.account_id]), "address": r.address} if {
	some r in lib.resources("google_service_account")
}

# Identical grants of two instances are one finding; the counts tell them
# apart.
warn contains sprintf("%d %s", [count(lib.resources(t)), t]) if {
	some t in ["google_service_account", "google_project_iam_member", "google_service_account_iam_member", "google_storage_bucket_iam_member"]
}

warn contains {"msg": sprintf("%s %v %v", [r.address, r.values.role, object.get(r.values, "member", "(known at plan)")]), "address": r.address} if {
	some t in ["google_project_iam_member", "google_service_account_iam_member"]
	some r in lib.resources(t)
}

warn contains {"msg": sprintf("%s %v %v", [r.address, r.values.role, r.values.condition[0].expression]), "address": r.address} if {
	some r in lib.resources("google_storage_bucket_iam_member")
}
`

// probeModule lints a platform module as the root of
// microservices/orders/dev with tfvars, so every value is known, with the
// default policies (no denial) and then with probe, and returns the
// probe's warnings.
func probeModule(t *testing.T, module, tfvars, probe string) []string {
	t.Helper()
	repo := t.TempDir()
	proj := filepath.Join(repo, "microservices", "orders", "dev")
	if err := os.CopyFS(proj, os.DirFS(filepath.Join(platformModules, module))); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(proj, "backend.tf"), "terraform {\n  backend \"gcs\" {}\n}\n")
	writeFile(t, filepath.Join(proj, "terraform.tfvars"), tfvars)
	// The default policies judge the known values too.
	assertNoDenials(t, repo)

	pdir := t.TempDir()
	lib, err := fs.ReadFile(policies.FS(), "lib.rego")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pdir, "lib.rego"), string(lib))
	writeFile(t, filepath.Join(pdir, "probe.rego"), probe)
	var stdout, stderr bytes.Buffer
	if code := lintcmd.Run(context.Background(), []string{"--format", "json", "--policy-dir", pdir, repo}, &stdout, &stderr); code != 0 {
		t.Fatalf("probe lint exited %d: %s", code, stderr.String())
	}
	var found []policy.Finding
	if err := json.Unmarshal(stdout.Bytes(), &found); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range found {
		if f.Rule == "PROBE" {
			out = append(out, f.Message)
		}
	}
	slices.Sort(out)
	return out
}

// TestServiceAccountsLeastPrivilege checks what service-accounts grants for
// each executor: the three accounts of this service, read-only roles for
// the plan account, state access under this service's prefix only, and the
// executor's binding for exactly tfpr's account or the runner KSAs of this
// service.
func TestServiceAccountsLeastPrivilege(t *testing.T) {
	const common = `service                = "orders"
env                    = "dev"
workload_identity_pool = "acme-platform.svc.id.goog"
app_roles              = ["roles/spanner.databaseUser"]
state_bucket           = "acme-tfstate"
state_prefix           = "acme/microservices-terraform/microservices/orders/dev"
`
	stateCondition := `resource.name.startsWith("projects/_/buckets/acme-tfstate/objects/acme/microservices-terraform/microservices/orders/dev/")`
	shared := []string{
		"account app-orders", "account tf-orders-dev", "account tf-ro-orders-dev",
		"google_service_account_iam_member.app_workload_identity roles/iam.workloadIdentityUser serviceAccount:acme-platform.svc.id.goog[orders-dev/app]",
		"google_storage_bucket_iam_member.state roles/storage.objectUser " + stateCondition,
		"google_storage_bucket_iam_member.state roles/storage.objectViewer " + stateCondition,
		// app, 5 apply roles, the conditional IAM admin, 7 plan roles
		"3 google_service_account", "14 google_project_iam_member",
		"3 google_service_account_iam_member", "2 google_storage_bucket_iam_member",
	}
	tests := []struct {
		name, tfvars string
		executor     []string
	}{
		{"token-creator", common + `executor = "token-creator"
tfpr_service_account = "tfpr@acme-platform.iam.gserviceaccount.com"
`, []string{
			// One finding for the two bindings, one per runner account.
			"google_service_account_iam_member.executor roles/iam.serviceAccountTokenCreator serviceAccount:tfpr@acme-platform.iam.gserviceaccount.com",
		}},
		{"kubernetes-job", common + `executor = "kubernetes-job"
`, []string{
			"google_service_account_iam_member.executor roles/iam.workloadIdentityUser serviceAccount:acme-platform.svc.id.goog[tfpr-runs/tf-orders-dev]",
			"google_service_account_iam_member.executor roles/iam.workloadIdentityUser serviceAccount:acme-platform.svc.id.goog[tfpr-runs/tf-ro-orders-dev]",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := probeModule(t, "service-accounts", tc.tfvars, grantsProbe)
			for _, want := range append(slices.Clone(shared), tc.executor...) {
				i := slices.Index(got, want)
				if i < 0 {
					t.Errorf("no %q among:\n%s", want, strings.Join(got, "\n"))
					continue
				}
				got = slices.Delete(got, i, i+1)
			}
			// What is left are the project roles; members are the accounts'
			// emails, known only at plan.
			for _, g := range got {
				f := strings.Fields(g)
				if len(f) < 2 {
					t.Errorf("unexpected account or grant %q", g)
					continue
				}
				role := f[1]
				switch f[0] {
				case "google_project_iam_member.plan":
					if !strings.HasSuffix(role, "Viewer") && !strings.HasSuffix(role, "viewer") && role != "roles/browser" && role != "roles/iam.securityReviewer" {
						t.Errorf("the plan account gets %s, which is not read-only", role)
					}
				case "google_project_iam_member.app":
					if role != "roles/spanner.databaseUser" {
						t.Errorf("the application gets %s beyond app_roles", role)
					}
				case "google_project_iam_member.apply", "google_project_iam_member.apply_grants_app_roles":
					if role == "roles/owner" || role == "roles/editor" || strings.Contains(role, "organization") {
						t.Errorf("the apply account gets %s", role)
					}
				default:
					t.Errorf("unexpected grant %q", g)
				}
			}
		})
	}
}

const spannerProbe = `# METADATA
# title: spanner probe
# custom:
#   id: PROBE
#   severity: warn
package tfpr.hcl.spanner_probe

import data.tfpr.lib

warn contains sprintf("%s deletion_protection=%v enable_drop_protection=%v", [r.address, r.values.deletion_protection, r.values.enable_drop_protection]) if {
	some r in lib.resources("google_spanner_database")
}

warn contains sprintf("%s force_destroy=%v labels=%v", [r.address, r.values.force_destroy, r.values.labels]) if {
	some r in lib.resources("google_spanner_instance")
}
`

// TestSpannerDeletionProtection checks the database cannot be dropped by
// default and the instance carries the service's labels.
func TestSpannerDeletionProtection(t *testing.T) {
	got := probeModule(t, "spanner", "service = \"orders\"\nenv     = \"dev\"\nowner   = \"team-orders\"\n", spannerProbe)
	want := []string{
		"google_spanner_database.this deletion_protection=true enable_drop_protection=true",
		`google_spanner_instance.this force_destroy=false labels={"env": "dev", "owner": "team-orders", "service": "orders"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("spanner module values:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestK8sNamespaceManifests applies k8s-namespace with the real terraform
// (it declares no provider, so it runs offline) and checks the objects it
// renders: restricted namespace, quota, default-deny ingress, team RBAC and
// the application's Workload Identity annotation.
func TestK8sNamespaceManifests(t *testing.T) {
	tf := testenv.Terraform(t)
	mod, err := filepath.Abs(filepath.Join(platformModules, "k8s-namespace"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), `module "ns" {
  source = "`+mod+`"

  service                       = "orders"
  env                           = "dev"
  owner                         = "team-orders"
  team_group                    = "gke-security-groups-orders@acme.example"
  app_gsa_email                 = "app-orders@orders-dev.iam.gserviceaccount.com"
  allow_ingress_from_namespaces = ["ingress-nginx"]
}

output "objects" {
  value = module.ns.objects
}

output "manifests" {
  value = module.ns.manifests
}
`)
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	writeFile(t, cliConfig, "")
	tfRun := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	tfRun("init", "-input=false", "-no-color")
	tfRun("validate", "-no-color")
	tfRun("apply", "-input=false", "-auto-approve", "-no-color")
	var objects []map[string]any
	if err := json.Unmarshal(tfRun("output", "-json", "objects"), &objects); err != nil {
		t.Fatal(err)
	}
	byKind := map[string]map[string]any{}
	for _, o := range objects {
		byKind[o["kind"].(string)] = o
		md := o["metadata"].(map[string]any)
		if o["kind"] != "Namespace" && md["namespace"] != "orders-dev" {
			t.Errorf("%s is in namespace %v, want orders-dev", o["kind"], md["namespace"])
		}
	}
	check := func(kind, path string, want any) {
		t.Helper()
		var v any = byKind[kind]
		for _, k := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any: // the first element, as the objects hold one rule
				v = nil
				if len(x) > 0 {
					v = x[0].(map[string]any)[k]
				}
			}
		}
		got, _ := json.Marshal(v)
		if w, _ := json.Marshal(want); string(got) != string(w) {
			t.Errorf("%s %s = %s, want %s", kind, path, got, w)
		}
	}
	check("Namespace", "metadata.name", "orders-dev")
	check("Namespace", "metadata.labels", map[string]string{"env": "dev", "owner": "team-orders", "service": "orders",
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"})
	if hard := byKind["ResourceQuota"]["spec"].(map[string]any)["hard"].(map[string]any); hard["services.loadbalancers"] != "0" || hard["limits.memory"] != "16Gi" {
		t.Errorf("ResourceQuota hard = %v", hard)
	}
	check("NetworkPolicy", "spec.podSelector", map[string]any{})
	check("NetworkPolicy", "spec.policyTypes", []string{"Ingress"})
	check("NetworkPolicy", "spec.ingress.from", []any{
		map[string]any{"podSelector": map[string]any{}},
		map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}}},
	})
	check("RoleBinding", "roleRef.name", "edit")
	check("RoleBinding", "subjects", []any{map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "gke-security-groups-orders@acme.example"}})
	check("ServiceAccount", "metadata.annotations", map[string]string{"iam.gke.io/gcp-service-account": "app-orders@orders-dev.iam.gserviceaccount.com"})

	var manifests map[string]string
	if err := json.Unmarshal(tfRun("output", "-json", "manifests"), &manifests); err != nil {
		t.Fatal(err)
	}
	if len(manifests) != len(objects) || !strings.Contains(manifests["00-namespace.yaml"], `"kind": "Namespace"`) && !strings.Contains(manifests["00-namespace.yaml"], "kind: Namespace") {
		t.Errorf("manifests = %v", manifests)
	}
}
