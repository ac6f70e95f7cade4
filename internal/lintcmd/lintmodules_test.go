package lintcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

// writeTree writes files (slash paths relative to the returned dir).
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const openFirewall = `resource "google_compute_firewall" "ssh" {
  name          = "ssh"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
`

const gcsBackend = "terraform {\n  backend \"gcs\" {}\n}\n"

// moduleTree is a platform team's repository: modules only, one of them
// calling another and one calling a module that is not there.
var moduleTree = map[string]string{
	"modules/net/main.tf": openFirewall,
	"modules/svc/main.tf": "module \"net\" {\n  source = \"../net\"\n}\n\nmodule \"gone\" {\n  source = \"../gone\"\n}\n",
	"README.md":           "not terraform\n",
	// A checkout: modules/svc's ../net resolves inside it.
	".git/HEAD": "ref: refs/heads/main\n",
}

func TestLintModules(t *testing.T) {
	withProject := map[string]string{
		"modules/net/main.tf":          openFirewall,
		"microservices/a/dev/main.tf":  gcsBackend + "module \"net\" {\n  source = \"../../../modules/net\"\n}\n",
		"modules/unused/main.tf":       "data \"external\" \"x\" {\n  program = [\"true\"]\n}\n",
		"modules/unused/nested/min.tf": "locals {\n  a = 1\n}\n",
	}
	tests := []struct {
		name    string
		files   map[string]string
		dir     string // under the tree; "" for the tree itself
		code    int
		want    []string // text lines, paths relative to the tree
		summary string
	}{
		{"module-only tree", moduleTree, "", 1, []string{
			"modules/net/main.tf:4: [deny] TFPR012: google_compute_firewall.ssh allows port 22 from the internet",
			"modules/svc/main.tf:6: [deny] parse: local module modules/gone does not exist",
		}, "0 projects, 1 modules"},
		{"a module named on the command line", moduleTree, "modules/net", 1, []string{
			"modules/net/main.tf:4: [deny] TFPR012",
		}, "0 projects, 1 modules"},
		{"a module reached from a project is linted with it", withProject, "", 1, []string{
			"modules/net/main.tf:4: [deny] TFPR012",
			"modules/unused/main.tf:1: [deny] TFPR001",
		}, "1 projects, 2 modules"},
		{"dynamic allow blocks in a module", map[string]string{"modules/fw/main.tf": `locals {
  rules = [{ protocol = "tcp", ports = ["3389"] }]
}

resource "google_compute_firewall" "rdp" {
  name          = "rdp"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  dynamic "allow" {
    for_each = local.rules
    content {
      protocol = allow.value.protocol
      ports    = allow.value.ports
    }
  }
}
`}, "", 1, []string{"modules/fw/main.tf:8: [deny] TFPR012: google_compute_firewall.rdp allows port 3389 from the internet"}, "0 projects, 1 modules"},
		{"no Terraform files", map[string]string{"docs/README.md": "hi\n"}, "", 2, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeTree(t, tc.files)
			arg := filepath.Join(root, tc.dir)
			out, errOut, code := lint(t, arg)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, root+"/"+w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.summary != "" && !strings.Contains(errOut, tc.summary) {
				t.Errorf("summary lacks %q:\n%s", tc.summary, errOut)
			}
			if code == 2 && !strings.Contains(errOut, "no Terraform files (*.tf, *.tf.json) under "+arg) {
				t.Errorf("no message naming %s:\n%s", arg, errOut)
			}
		})
	}
}

func TestLintFlagsAfterDirs(t *testing.T) {
	root := writeTree(t, moduleTree)
	out, errOut, code := lint(t, filepath.Join(root, "modules/net"), "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var fs []struct{ Rule string }
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) != 1 || fs[0].Rule != "TFPR012" {
		t.Fatalf("want one TFPR012 finding as JSON, got %v:\n%s", err, out)
	}
}

func TestLintParams(t *testing.T) {
	tree := writeTree(t, map[string]string{
		"modules/reg/main.tf": "module \"n\" {\n  source  = \"example/network/google\"\n  version = \"1.0.0\"\n}\n",
	})
	params := writeTree(t, map[string]string{
		"ok.json":    `{"allowed_module_namespaces": ["example"]}`,
		"typo.json":  `{"alowed_providers": ["hashicorp/google"]}`,
		"type.json":  `{"max_destroy": "five"}`,
		"bad.json":   "{\n  \"max_destroy\": 5,\n}\n",
		"array.json": `["x"]`,
	})
	tests := []struct {
		name, file string
		env        bool
		code       int
		want       string // in stdout for code 0/1, stderr for 2
	}{
		{"default namespaces deny", "", false, 1, `registry namespace "example" is not allowed`},
		{"params flag allows the namespace", "ok.json", false, 0, ""},
		{"env twin", "ok.json", true, 0, ""},
		{"unknown key", "typo.json", false, 2, `unknown key "alowed_providers": no policy reads it (did you mean "allowed_providers"?)`},
		{"wrong type", "type.json", false, 2, `max_destroy must be a number, got a string "five"`},
		{"syntax error has a line", "bad.json", false, 2, "bad.json:3: invalid character '}'"},
		{"not an object", "array.json", false, 2, "want a JSON object of parameters, got array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{filepath.Join(tree, "modules/reg")}
			t.Setenv("TFPR_POLICY_PARAMS_FILE", "")
			if tc.file != "" {
				p := filepath.Join(params, tc.file)
				if tc.env {
					t.Setenv("TFPR_POLICY_PARAMS_FILE", p)
				} else {
					args = append(args, "--params", p)
				}
			}
			out, errOut, code := lint(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			got := out
			if code == 2 {
				got = errOut
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("want %q in:\n%s", tc.want, got)
			}
		})
	}
}

func TestLintInput(t *testing.T) {
	root := writeTree(t, moduleTree)
	out, errOut, code := lint(t, "--input", filepath.Join(root, "modules/svc"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Modules []struct{ Address string }
		Project struct{ Dir string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("input is not JSON: %v\n%s", err, out)
	}
	if len(doc.Modules) != 2 || doc.Modules[0].Address != "module.net" {
		t.Errorf("modules = %+v", doc.Modules)
	}
	if !strings.Contains(errOut, "modules/svc/main.tf:6: [deny] parse: local module modules/gone does not exist") {
		t.Errorf("read problems not on stderr:\n%s", errOut)
	}
	if _, errOut, code := lint(t, "--input", root); code != 2 || !strings.Contains(errOut, "no Terraform files") {
		t.Errorf("--input on a dir without Terraform files: exit %d, %s", code, errOut)
	}
}

// TestLintOfModulesHoldsNothingToTheEnd lints a tree of modules with no
// project, the shape of a published module library: every dir is read to
// find the entry points, and none may stay held once its last use is
// linted, so memory follows the modules in progress rather than the tree.
func TestLintOfModulesHoldsNothingToTheEnd(t *testing.T) {
	files := map[string]string{"modules/shared/main.tf": openFirewall}
	for i := range 8 {
		files[fmt.Sprintf("modules/m%d/main.tf", i)] = fmt.Sprintf("module \"shared\" {\n  source = \"../shared\"\n}\n\nlocals {\n  n = %d\n}\n", i)
	}
	root := writeTree(t, files)
	ctx := context.Background()
	tree, scanned := openTree(t, lintEngine(t), root)
	sc := noScope()
	sc.kept = newFindingSet()
	projects, err := lintUnder(ctx, tree, root, scanned, ".", sc, 2)
	if err != nil || len(projects) != 0 {
		t.Fatalf("projects %v, %v", projects, err)
	}
	if n := tree.DirsHeld(); n != 0 {
		t.Errorf("after the projects: %d dirs held, that only the module lint uses", n)
	}
	mods, err := lintModules(ctx, tree, scanned, ".", projects, sc, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 8 {
		t.Errorf("linted %d modules, want the 8 entry points", len(mods))
	}
	var all []policy.Finding
	for _, m := range mods {
		all = append(all, m.findings...)
	}
	if !slices.ContainsFunc(all, func(f policy.Finding) bool { return f.File == "modules/shared/main.tf" && f.Rule == "TFPR012" }) {
		t.Errorf("the shared module's open firewall is not reported: %v", all)
	}
	if n := tree.DirsHeld(); n != 0 {
		t.Errorf("after the modules: %d dirs still held", n)
	}
}
