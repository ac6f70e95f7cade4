package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/tfpr/tfpr/internal/lintcmd"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/testenv"
)

// platformModules is the repository's modules/ directory.
const platformModules = "../../modules"

// moduleSchema is the part of a module's files its README must document.
var moduleSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "output", LabelNames: []string{"name"}},
	{Type: "terraform"},
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "data", LabelNames: []string{"type", "name"}},
	{Type: "module", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "provider", LabelNames: []string{"name"}},
}}

var (
	exampleBlock = regexp.MustCompile("(?s)```hcl\n(.*?)```")
	pinnedGoogle = regexp.MustCompile(`(?s)google\s*=\s*\{[^}]*version\s*=\s*"~> [0-9]+\.[0-9]+"`)
)

// TestPlatformModules checks every module under modules/ the way the README
// promises: terraform fmt -check, an HCL parse, pinned providers, a README
// naming every input and output, and an example that lints with the
// default policies without a denial.
func TestPlatformModules(t *testing.T) {
	tf := testenv.Terraform(t)
	entries, err := os.ReadDir(platformModules)
	if err != nil {
		t.Fatal(err)
	}
	var mods []string
	for _, e := range entries {
		if e.IsDir() {
			mods = append(mods, e.Name())
		}
	}
	for _, want := range []string{"gcp-project", "service-accounts", "k8s-namespace", "spanner", "microservice", "service-bucket"} {
		if !slices.Contains(mods, want) {
			t.Errorf("modules/%s is missing", want)
		}
	}
	for _, m := range mods {
		t.Run(m, func(t *testing.T) {
			dir := filepath.Join(platformModules, m)
			terraformFmtCheck(t, tf, dir)
			names := parseModule(t, dir)
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatalf("module %s has no README: %v", m, err)
			}
			for _, n := range names {
				if !strings.Contains(string(readme), "`"+n+"`") {
					t.Errorf("modules/%s/README.md does not document %s", m, n)
				}
			}
			ex := exampleBlock.FindSubmatch(readme)
			if ex == nil {
				t.Fatalf("modules/%s/README.md has no ```hcl example", m)
			}
			if !strings.Contains(string(ex[1]), `source = "../../../modules/`+m+`"`) {
				t.Errorf("modules/%s/README.md: the example does not call the module from microservices/<service>/<env>:\n%s", m, ex[1])
			}
			repo := repoWithModules(t)
			proj := filepath.Join(repo, "microservices", "orders", "dev")
			writeFile(t, filepath.Join(proj, "main.tf"), "terraform {\n  backend \"gcs\" {}\n}\n\n"+string(ex[1]))
			terraformFmtCheck(t, tf, proj)
			assertNoDenials(t, repo)
		})
	}
}

// TestPlatformModulesValidate runs terraform validate on every module where
// the google provider can be installed (TFPR_TEST_PROVIDERS=1: a registry
// or a provider mirror is reachable); the machines building tfpr offline
// cannot.
func TestPlatformModulesValidate(t *testing.T) {
	if os.Getenv("TFPR_TEST_PROVIDERS") != "1" {
		t.Skip("terraform validate needs provider schemas; set TFPR_TEST_PROVIDERS=1 where providers can be installed")
	}
	tf := testenv.Terraform(t)
	entries, err := os.ReadDir(platformModules)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join(platformModules, e.Name()))); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"init", "-backend=false", "-input=false"}, {"validate"}} {
				cmd := exec.CommandContext(t.Context(), tf, args...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("terraform %s in modules/%s: %v\n%s", args[0], e.Name(), err, out)
				}
			}
		})
	}
}

// parseModule parses every .tf file of dir, checks that required_providers
// entries carry a version and terraform a required_version, and returns the
// names of the module's variables and outputs.
func parseModule(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	if len(files) == 0 {
		t.Fatalf("%s has no .tf files", dir)
	}
	p := hclparse.NewParser()
	var names []string
	requiredVersion, usesGoogle, pinsGoogle := false, false, false
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", f, diags.Error())
		}
		content, diags := file.Body.Content(moduleSchema)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable", "output":
				names = append(names, b.Labels[0])
			case "resource", "data":
				usesGoogle = usesGoogle || strings.HasPrefix(b.Labels[0], "google_")
			case "terraform":
				attrs, _ := b.Body.JustAttributes()
				_, ok := attrs["required_version"]
				requiredVersion = requiredVersion || ok
				src, _ := os.ReadFile(f)
				pinsGoogle = pinsGoogle || pinnedGoogle.Match(src)
			}
		}
	}
	if !requiredVersion {
		t.Errorf("%s: no terraform { required_version }", dir)
	}
	if usesGoogle && !pinsGoogle {
		t.Errorf("%s uses the google provider without pinning it in required_providers (version = \"~> X.Y\")", dir)
	}
	return names
}

func terraformFmtCheck(t *testing.T, tf, dir string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), tf, "fmt", "-check", "-diff", "-recursive", ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check in %s: %v\n%s", dir, err, out)
	}
}

// repoWithModules is a temporary monorepo holding a copy of modules/.
func repoWithModules(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	if err := os.CopyFS(filepath.Join(repo, "modules"), os.DirFS(platformModules)); err != nil {
		t.Fatal(err)
	}
	return repo
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// assertNoDenials lints dir with the default policies and fails on any
// deny finding, or when no project was linted.
func assertNoDenials(t *testing.T, dir string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := lintcmd.Run(context.Background(), []string{"--format", "json", dir}, &stdout, &stderr)
	var fs []policy.Finding
	if err := json.Unmarshal(stdout.Bytes(), &fs); err != nil {
		t.Fatalf("tfpr lint %s: %v\nstdout: %s\nstderr: %s", dir, err, stdout.String(), stderr.String())
	}
	for _, f := range fs {
		if f.Severity == policy.SeverityDeny {
			t.Errorf("tfpr lint %s: %s:%d: [deny] %s: %s", dir, f.File, f.Line, f.Rule, f.Message)
		}
	}
	if code != 0 || strings.Contains(stderr.String(), "no Terraform projects") {
		t.Errorf("tfpr lint %s: exit %d\n%s", dir, code, stderr.String())
	}
}

// TestSampleMonorepoWalkthrough follows the README: the sample lints clean,
// and a service added to it by new-service does too.
func TestSampleMonorepoWalkthrough(t *testing.T) {
	tf := testenv.Terraform(t)
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS("../../testdata/microservices-terraform")); err != nil {
		t.Fatal(err)
	}
	assertNoDenials(t, repo)
	code, out, errOut := runCLI("new-service", "checkout", "--owners", "@acme/team-checkout", "--repo", repo)
	if code != 0 {
		t.Fatalf("new-service in the sample exited %d: %s", code, errOut)
	}
	for _, want := range []string{"created microservices/checkout/dev/main.tf", "created microservices/checkout/prod/outputs.tf", "updated CODEOWNERS"} {
		if !strings.Contains(out, want) {
			t.Errorf("new-service output lacks %q:\n%s", want, out)
		}
	}
	terraformFmtCheck(t, tf, repo)
	assertNoDenials(t, repo)
}
