package lintcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

const cases = "../policy/testdata/cases"

func lint(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestLintFormats(t *testing.T) {
	bad := filepath.Join(cases, "external_data", "bad")
	tests := []struct {
		format string
		check  func(t *testing.T, out string)
	}{
		{"text", func(t *testing.T, out string) {
			want := bad + "/microservices/alpha/dev/main.tf:5: [deny] TFPR001: data.external.whoami runs a program"
			if !strings.Contains(out, want) {
				t.Errorf("text output lacks %q:\n%s", want, out)
			}
		}},
		{"json", func(t *testing.T, out string) {
			var fs []policy.Finding
			if err := json.Unmarshal([]byte(out), &fs); err != nil {
				t.Fatalf("json output: %v\n%s", err, out)
			}
			if len(fs) != 4 || fs[0].Rule != "TFPR001" || fs[0].Line != 5 || fs[0].Address != "data.external.whoami" {
				t.Errorf("json findings = %+v", fs)
			}
		}},
		{"sarif", func(t *testing.T, out string) {
			var log struct {
				Version string
				Runs    []struct {
					Results []struct {
						RuleID    string
						Level     string
						Locations []struct {
							PhysicalLocation struct {
								ArtifactLocation struct{ URI string }
								Region           struct{ StartLine int }
							}
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &log); err != nil {
				t.Fatalf("sarif output: %v", err)
			}
			r := log.Runs[0].Results[0]
			loc := r.Locations[0].PhysicalLocation
			if log.Version != "2.1.0" || r.RuleID != "TFPR001" || r.Level != "error" || loc.Region.StartLine != 5 ||
				!strings.HasSuffix(loc.ArtifactLocation.URI, "microservices/alpha/dev/main.tf") {
				t.Errorf("sarif = %+v", log)
			}
		}},
		{"github", func(t *testing.T, out string) {
			want := "::error file=" + bad + "/microservices/alpha/dev/main.tf,line=5,endLine=7,title=TFPR001 data \"external\" is not allowed::"
			if !strings.HasPrefix(out, want) {
				t.Errorf("github output does not start with %q:\n%s", want, out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			out, errOut, code := lint(t, "--format", tc.format, bad)
			if code != 1 {
				t.Errorf("exit %d, want 1 for a deny; stderr: %s", code, errOut)
			}
			tc.check(t, out)
		})
	}
}

func TestLintExitCodes(t *testing.T) {
	badRego := t.TempDir()
	if err := os.WriteFile(filepath.Join(badRego, "x.rego"), []byte("package tfpr.hcl.x\n\ndeny contains msg if {\n  msg := \n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		env    string
		code   int
		stderr string
	}{
		{name: "clean project", args: []string{filepath.Join(cases, "firewall", "good")}, code: 0},
		{name: "warn only", args: []string{filepath.Join(cases, "labels", "bad")}, code: 0},
		{name: "deny", args: []string{filepath.Join(cases, "firewall", "bad")}, code: 1},
		{name: "unknown format", args: []string{"--format", "xml", "."}, code: 2, stderr: "xml"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2},
		{name: "missing dir", args: []string{"does-not-exist"}, code: 2},
		{name: "missing policy dir", args: []string{"--policy-dir", "nope", "."}, code: 2, stderr: "policy dir"},
		{name: "invalid policy", args: []string{"--policy-dir", badRego, "."}, code: 2, stderr: "x.rego:5:"},
		{name: "policy dir from env", env: badRego, args: []string{"."}, code: 2, stderr: "x.rego:5:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TFPR_POLICY_DIR", tc.env)
			_, errOut, code := lint(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr containing %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}

func TestGitHubEscaping(t *testing.T) {
	var buf bytes.Buffer
	err := writeGitHub(&buf, []policy.Finding{{Rule: "R1", Severity: policy.SeverityDeny, File: "a,b:c.tf", Line: 2, Message: "line one\n::error::injected 100%"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "::error file=a%2Cb%3Ac.tf,line=2,title=R1::line one%0A::error::injected 100%25\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
}

// graphTree writes projects and modules that exercise what project.Scan
// decides: nested and missing modules, calls leaving the repository, dirs
// it skips or does not walk into, JSON files, and blocks that do not count.
func graphTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	external := func(name string) string { return fmt.Sprintf("data \"external\" %q {\n  program = [\"x\"]\n}\n", name) }
	backend := "terraform {\n  backend \"gcs\" {}\n}\n"
	call := func(name, source string) string { return fmt.Sprintf("module %q {\n  source = %q\n}\n", name, source) }
	files := map[string]string{
		"main.tf":                          backend + call("a", "./modules/a") + call("self", "./"),
		"microservices/x/dev/main.tf":      backend + call("a", "../../../modules/a") + call("out", "../../../../../outside") + call("reg", "acme/x/google"),
		"microservices/x/prod/main.tf":     backend + call("hidden", "../../../.hidden/m") + call("npm", "../../../node_modules/m") + call("link", "../../../modules/link"),
		"microservices/y/dev/main.tf.json": `{"terraform": {"backend": {"gcs": {}}}, "module": {"b": {"source": "../../../modules/b"}}}`,
		"microservices/y/prod/main.tf":     "terraform {\n  backend \"gcs\" \"extra\" {}\n}\n" + call("a", "../../../modules/a"),
		"modules/a/main.tf":                external("a") + call("b", "../b"),
		"modules/b/main.tf":                external("b") + call("c", "./c") + call("dyn", "${path.module}/d"),
		".hidden/m/main.tf":                external("hidden") + call("z", "../../modules/z"),
		"node_modules/m/main.tf":           external("npm") + call("z", "../../modules/z"),
		"modules/z/main.tf":                external("z"),
	}
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("b", filepath.Join(root, "modules/link")); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestProjectsFromOwnParse checks that tfpr lint, which takes projects and
// module calls from the parse the policies use, lints what project.Scan's
// graph names, with the same findings.
func TestProjectsFromOwnParse(t *testing.T) {
	ctx := context.Background()
	root := graphTree(t)
	engine := lintEngine(t)
	none := noScope()
	for _, sub := range []string{".", "microservices", "microservices/x/prod", "modules", ".hidden", "nope"} {
		tree, scanned := openTree(t, engine, root)
		want, err := scanAndLint(ctx, tree, root, sub, none, 2)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := streamProjects(ctx, tree, root, scanned, sub, none, 2)
		if err != nil || !ok {
			t.Fatalf("%s: fast path did not finish: ok=%v, %v", sub, ok, err)
		}
		if (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
			t.Errorf("sub %s:\n got %+v\nwant %+v", sub, got, want)
		}
		if sub == "." && len(want) != 4 {
			t.Errorf("the fixture should hold 4 projects, project.Scan found %+v", want)
		}
	}
}

// TestBrokenFilesStayOnFastPath checks that files the policies refuse or
// cannot parse (a syntax error, an OpenTofu file, an override file) no
// longer send the whole tree to project.Scan: only those files are read
// the way Scan reads them, and the projects, module closures and findings
// are exactly Scan's.
func TestBrokenFilesStayOnFastPath(t *testing.T) {
	ctx := context.Background()
	root := graphTree(t)
	extra := map[string]string{
		// The backend is only visible to project.Scan's recovery.
		"microservices/x/dev/main.tf": "terraform {\n  backend \"gcs\" {}\n}\nresource \"x\" {\n",
		// Module calls only in files the policies refuse.
		"microservices/x/prod/extra.tofu":         "module \"z\" {\n  source = \"../../../modules/z\"\n}\n",
		"modules/z/main_override.tf":              "module \"c\" {\n  source = \"../b/c\"\n}\n",
		"modules/b/c/main.tf":                     "locals {\n  a = 1\n}\n",
		"microservices/w/dev/backend_override.tf": "terraform {\n  backend \"gcs\" {}\n}\n",
		"microservices/w/dev/main.tf":             "locals {\n  b = 1\n}\n",
	}
	for rel, content := range extra {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	engine := lintEngine(t)
	none := noScope()
	tree, _ := openTree(t, engine, root)
	want, err := scanAndLint(ctx, tree, root, ".", none, 2)
	if err != nil {
		t.Fatal(err)
	}
	fresh, scanned := openTree(t, engine, root)
	got, ok, err := streamProjects(ctx, fresh, root, scanned, ".", none, 2)
	if err != nil || !ok {
		t.Fatalf("fast path with broken and refused files: ok=%v, %v; want it to finish", ok, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fast path differs from project.Scan's graph:\n got %+v\nwant %+v", got, want)
	}
	byDir := map[string]linted{}
	for _, l := range got {
		byDir[l.dir] = l
	}
	var parse bool
	for _, f := range byDir["microservices/x/dev"].findings {
		parse = parse || (f.Rule == policy.RuleParse && f.File == "microservices/x/dev/main.tf" && f.Severity == policy.SeverityDeny)
	}
	if !parse {
		t.Errorf("broken project not linted with its parse error: %+v", byDir["microservices/x/dev"])
	}
	if m := byDir["microservices/x/prod"].modules; !slices.Contains(m, "modules/z") || !slices.Contains(m, "modules/b/c") {
		t.Errorf("modules called from refused files are missing from microservices/x/prod: %v", m)
	}
	if _, ok := byDir["microservices/w/dev"]; !ok {
		t.Errorf("project whose backend is in an override file not linted: %+v", got)
	}
}
