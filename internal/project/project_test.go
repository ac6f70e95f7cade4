package project

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const backendGCS = "terraform {\n  backend \"gcs\" {}\n}\n"

func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// layout is a repository with the shapes tfpr meets: projects per service
// and environment, shared modules calling each other, a JSON project, a
// module cycle, broken files and sources that leave the repository.
var layout = map[string]string{
	"microservices/alpha/dev/main.tf": backendGCS + `
module "a" {
  source = "../../../modules/a"
}
`,
	"microservices/alpha/dev/files/x.json": `{"k": 1}`,
	"microservices/alpha/prod/main.tf": backendGCS + `
module "a" {
  source = "./../../../modules/a/"
}
`,
	"microservices/beta/dev/backend.tf": backendGCS,
	"microservices/beta/dev/main.tf": `
module "c" {
  source = "../../../modules/c"
}
module "registry" {
  source  = "terraform-google-modules/network/google"
  version = "~> 9.0"
}
module "remote" {
  source = "git::https://example.com/mods.git//net?ref=v1"
}
`,
	"microservices/gamma/dev/main.tf.json": `{
  "terraform": {"backend": {"gcs": {"bucket": "state"}}},
  "module": {"b": {"source": "../../../modules/b"}}
}`,
	"microservices/delta/dev/main.tf": backendGCS + `
module "loop" {
  source = "../../../modules/cyc1"
}
`,
	"microservices/epsilon/dev/main.tf": backendGCS + `
module "gone" {
  source = "../../../modules/gone"
}
`,
	// Backend in a good file, syntax error on line 3 of another.
	"microservices/broken/dev/backend.tf": backendGCS,
	"microservices/broken/dev/main.tf":    "resource \"terraform_data\" \"x\" {\n  input = 1\n  oops = = 2\n}\n",
	// The only file declares the backend and then breaks.
	"microservices/mangled/dev/main.tf": backendGCS + "resource \"terraform_data\" \"x\" {\n  input = [\n",
	// Broken before the backend, so only the raw text reveals it.
	"microservices/garbled/dev/main.tf": "resource \"terraform_data\" \"x\" {\n  input = [\n" + backendGCS,
	"microservices/garbled/json/main.tf.json": `{"resource": {"terraform_data": {"x": {"input": [1,}}},
  "terraform": {"backend": {"gcs": {}}}}`,
	"modules/a/main.tf": `
module "b" {
  source = "../b"
}
`,
	"modules/b/main.tf":          "resource \"terraform_data\" \"b\" {}\n",
	"modules/b/templates/t.tpl":  "${x}\n",
	"modules/c/main.tf":          "variable \"x\" {}\n",
	"modules/cyc1/main.tf":       "module \"next\" {\n  source = \"../cyc2\"\n}\n",
	"modules/cyc2/main.tf":       "module \"back\" {\n  source = \"../cyc1\"\n}\n",
	"modules/escape/main.tf":     "module \"out\" {\n  source = \"../../../outside\"\n}\n",
	"modules/dynamic/main.tf":    "module \"d\" {\n  source = var.where\n}\n",
	"docs/README.md":             "# docs\n",
	"README.md":                  "# repo\n",
	".terraform/modules/x/m.tf":  backendGCS,
	".git/hooks/x.tf":            backendGCS,
	"node_modules/pkg/main.tf":   backendGCS,
	"microservices/.hidden/a.tf": backendGCS,
	"modules/c/.#main.tf":        "this is an editor lock file {{{",
	"modules/c/main.tf~":         "backup {{{",
}

func scanLayout(t *testing.T, files map[string]string) (*Graph, string) {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	g, err := Scan(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	return g, root
}

func TestProjectsAndDirs(t *testing.T) {
	g, _ := scanLayout(t, layout)
	wantProjects := []string{
		"microservices/alpha/dev", "microservices/alpha/prod", "microservices/beta/dev",
		"microservices/broken/dev", "microservices/delta/dev", "microservices/epsilon/dev",
		"microservices/gamma/dev", "microservices/garbled/dev", "microservices/garbled/json",
		"microservices/mangled/dev",
	}
	if got := g.Projects(); !slices.Equal(got, wantProjects) {
		t.Fatalf("Projects() = %v\nwant %v", got, wantProjects)
	}
	dirs := map[string]Dir{}
	for _, d := range g.Dirs() {
		dirs[d.Path] = d
	}
	for _, skipped := range []string{".terraform/modules/x", ".git/hooks", "node_modules/pkg", "microservices/.hidden"} {
		if _, ok := dirs[skipped]; ok {
			t.Errorf("%s was scanned", skipped)
		}
	}
	tests := []struct {
		dir     string
		project bool
		backend string
		calls   []string
		files   []string
		broken  bool
	}{
		{dir: "microservices/gamma/dev", project: true, backend: "gcs", calls: []string{"modules/b"}, files: []string{"microservices/gamma/dev/main.tf.json"}},
		{dir: "microservices/alpha/prod", project: true, backend: "gcs", calls: []string{"modules/a"}, files: []string{"microservices/alpha/prod/main.tf"}},
		{dir: "microservices/beta/dev", project: true, backend: "gcs", calls: []string{"modules/c"}, files: []string{"microservices/beta/dev/backend.tf", "microservices/beta/dev/main.tf"}},
		{dir: "microservices/broken/dev", project: true, backend: "gcs", broken: true, files: []string{"microservices/broken/dev/backend.tf", "microservices/broken/dev/main.tf"}},
		{dir: "microservices/mangled/dev", project: true, backend: "gcs", broken: true, files: []string{"microservices/mangled/dev/main.tf"}},
		{dir: "modules/a", calls: []string{"modules/b"}, files: []string{"modules/a/main.tf"}},
		{dir: "modules/c", files: []string{"modules/c/main.tf"}},
		{dir: "modules/escape", files: []string{"modules/escape/main.tf"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			d, ok := dirs[tt.dir]
			if !ok {
				t.Fatalf("%s not scanned", tt.dir)
			}
			if d.Project != tt.project || d.Backend != tt.backend || d.Broken != tt.broken ||
				!slices.Equal(d.Calls, tt.calls) || !slices.Equal(d.Files, tt.files) {
				t.Fatalf("got %+v, want project=%v backend=%q broken=%v calls=%v files=%v",
					d, tt.project, tt.backend, tt.broken, tt.calls, tt.files)
			}
			if g.IsProject(tt.dir) != tt.project || g.IsProject("./"+tt.dir+"/") != tt.project {
				t.Fatalf("IsProject(%s) disagrees with Dirs", tt.dir)
			}
		})
	}
}

func TestModulesAndCallers(t *testing.T) {
	g, _ := scanLayout(t, layout)
	modules := []struct {
		project string
		want    []string
	}{
		{"microservices/alpha/dev", []string{"modules/a", "modules/b"}},
		{"microservices/gamma/dev", []string{"modules/b"}},
		{"microservices/beta/dev", []string{"modules/c"}},
		{"microservices/delta/dev", []string{"modules/cyc1", "modules/cyc2"}},
		{"microservices/epsilon/dev", []string{"modules/gone"}},
		{"microservices/broken/dev", nil},
	}
	for _, tt := range modules {
		if got := g.Modules(tt.project); !slices.Equal(got, tt.want) {
			t.Errorf("Modules(%s) = %v, want %v", tt.project, got, tt.want)
		}
	}
	callers := []struct {
		module string
		want   []string
	}{
		{"modules/b", []string{"microservices/alpha/dev", "microservices/alpha/prod", "microservices/gamma/dev"}},
		{"modules/a", []string{"microservices/alpha/dev", "microservices/alpha/prod"}},
		{"modules/cyc2", []string{"microservices/delta/dev"}},
		{"modules/escape", nil},
	}
	for _, tt := range callers {
		if got := g.Callers(tt.module); !slices.Equal(got, tt.want) {
			t.Errorf("Callers(%s) = %v, want %v", tt.module, got, tt.want)
		}
	}
}

func TestAffected(t *testing.T) {
	g, _ := scanLayout(t, layout)
	alphaAndGamma := []string{"microservices/alpha/dev", "microservices/alpha/prod", "microservices/gamma/dev"}
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{"template in a project subdir", []string{"microservices/alpha/dev/files/x.json"}, []string{"microservices/alpha/dev"}},
		{"project file", []string{"microservices/alpha/prod/main.tf"}, []string{"microservices/alpha/prod"}},
		{"module reached directly and through another module", []string{"modules/b/main.tf"}, alphaAndGamma},
		{"template in a module subdir", []string{"modules/b/templates/t.tpl"}, alphaAndGamma},
		{"new file in a module", []string{"modules/a/variables.tf"}, []string{"microservices/alpha/dev", "microservices/alpha/prod"}},
		{"json project", []string{"microservices/gamma/dev/main.tf.json"}, []string{"microservices/gamma/dev"}},
		{"module cycle terminates", []string{"modules/cyc2/main.tf"}, []string{"microservices/delta/dev"}},
		{"broken project still affected", []string{"microservices/broken/dev/main.tf"}, []string{"microservices/broken/dev"}},
		{"project whose only file is broken", []string{"microservices/mangled/dev/main.tf"}, []string{"microservices/mangled/dev"}},
		{"project broken before its backend", []string{"microservices/garbled/dev/main.tf"}, []string{"microservices/garbled/dev"}},
		{"json project broken before its backend", []string{"microservices/garbled/json/main.tf.json"}, []string{"microservices/garbled/json"}},
		{"last file of a called module deleted", []string{"modules/gone/main.tf"}, []string{"microservices/epsilon/dev"}},
		{"neither project nor module", []string{"docs/README.md", "README.md", "scripts/x.sh"}, nil},
		{"uncalled module", []string{"modules/escape/main.tf"}, nil},
		{"skipped dirs", []string{".terraform/modules/x/m.tf", "node_modules/pkg/main.tf"}, nil},
		{"dedup and ./ spelling", []string{"./modules/c/main.tf", "microservices/beta/dev/main.tf", "modules/c/x.tf"}, []string{"microservices/beta/dev"}},
		{"nothing changed", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.Affected(tt.changed)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Affected(%v) = %v, want %v", tt.changed, got, tt.want)
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	g, _ := scanLayout(t, layout)
	diags := g.Diagnostics()
	tests := []struct {
		name string
		file string
		line int
		msg  string
	}{
		{"syntax error", "microservices/broken/dev/main.tf", 3, ""},
		{"source escaping root", "modules/escape/main.tf", 2, "outside the repository"},
		{"missing module dir", "microservices/epsilon/dev/main.tf", 6, "no .tf files in modules/gone"},
		{"non-literal source", "modules/dynamic/main.tf", 2, "literal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, d := range diags {
				if d.File == tt.file && d.Line == tt.line && strings.Contains(d.Message, tt.msg) {
					return
				}
			}
			t.Fatalf("no diagnostic at %s:%d containing %q; got %v", tt.file, tt.line, tt.msg, diags)
		})
	}
	for _, d := range diags {
		if strings.Contains(d.File, "modules/c/") {
			t.Errorf("ignored editor file was parsed: %v", d)
		}
	}
	if len(g.Affected([]string{"modules/escape/main.tf"})) != 0 {
		t.Error("escaping source was followed")
	}
}

func TestDuplicateBackend(t *testing.T) {
	g, _ := scanLayout(t, map[string]string{
		"p/a.tf": backendGCS,
		"p/b.tf": "terraform {\n  backend \"s3\" {}\n}\n",
	})
	if !g.IsProject("p") {
		t.Fatal("dir with a backend is not a project")
	}
	diags := g.Diagnostics()
	if len(diags) != 1 || diags[0].File != "p/b.tf" || diags[0].Line != 2 || !strings.Contains(diags[0].Message, "p/a.tf:2") {
		t.Fatalf("diagnostics = %v, want one at p/b.tf:2 pointing to p/a.tf:2", diags)
	}
}

func TestRootProjectAndRemoved(t *testing.T) {
	before, root := scanLayout(t, map[string]string{
		"main.tf":        backendGCS + "module \"m\" {\n  source = \"./mod\"\n}\n",
		"mod/main.tf":    "variable \"x\" {}\n",
		"svc/dev/a.tf":   backendGCS,
		"svc/prod/a.tf":  backendGCS,
		"svc/stage/a.tf": backendGCS,
	})
	if got := before.Affected([]string{"mod/main.tf"}); !slices.Equal(got, []string{"."}) {
		t.Fatalf("root project via module: Affected = %v", got)
	}
	if got := before.Affected([]string{"notes.txt"}); !slices.Equal(got, []string{"."}) {
		t.Fatalf("file in root project dir: Affected = %v", got)
	}

	if err := os.RemoveAll(filepath.Join(root, "svc", "dev")); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, map[string]string{"svc/prod/a.tf": "variable \"y\" {}\n"})
	if err := os.RemoveAll(filepath.Join(root, "svc", "stage")); err != nil {
		t.Fatal(err)
	}
	after, err := Scan(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	changed := []string{"svc/dev/a.tf", "svc/prod/a.tf"}
	if got := after.Removed(changed, before); !slices.Equal(got, []string{"svc/dev", "svc/prod"}) {
		t.Fatalf("Removed = %v, want [svc/dev svc/prod] (svc/stage has no changed file)", got)
	}
	// The root project still owns the path; the deleted project is gone.
	if got := after.Affected([]string{"svc/dev/a.tf"}); !slices.Equal(got, []string{"."}) {
		t.Fatalf("Affected after deleting svc/dev = %v, want only the root project", got)
	}
}

func TestScanErrors(t *testing.T) {
	if _, err := Scan(context.Background(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing root accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"p/main.tf": backendGCS})
	if _, err := Scan(ctx, root); err == nil {
		t.Error("cancelled context ignored")
	}
}

// TestScanHostileFiles: a .tf symlink to a FIFO (which blocked Scan in
// open), to /dev/zero (which it read without end) and a file nested deep
// enough to overflow the HCL parser's stack are each a diagnostic on a
// broken directory, and Scan returns. A directory holding only .tofu files
// is still found, so the policies see it.
func TestScanHostileFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"fifo/main.tf":   backendGCS,
		"zero/main.tf":   backendGCS,
		"deep/main.tf":   backendGCS + "locals {\n  x = " + strings.Repeat("[", 800_000) + "\n}\n",
		"tofu/main.tofu": backendGCS,
	})
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(fifo, filepath.Join(root, "fifo", "x.tf"))
	os.Symlink("/dev/zero", filepath.Join(root, "zero", "x.tf"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := Scan(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"fifo/x.tf", "zero/x.tf", "deep/main.tf"} {
		if !slices.ContainsFunc(g.Diagnostics(), func(d Diagnostic) bool { return d.File == f }) {
			t.Errorf("no diagnostic for %s: %v", f, g.Diagnostics())
		}
	}
	for _, d := range g.Dirs() {
		if d.Path != "tofu" && !d.Broken {
			t.Errorf("%s not marked broken", d.Path)
		}
	}
	if !g.IsProject("tofu") {
		t.Errorf("directory with main.tofu not found as a project: %v", g.Projects())
	}
}

func TestServiceEnvIsExactlyTheLayout(t *testing.T) {
	tests := []struct {
		dir, service, env string
		ok                bool
	}{
		{"microservices/alpha/dev", "alpha", "dev", true},
		{"/microservices/alpha/dev/", "alpha", "dev", true},
		{"platform/microservices/alpha/dev", "", "", false},
		{"microservices/beta/alpha/prod", "", "", false},
		{"microservices/alpha", "", "", false},
		{"microservices//dev", "", "", false},
	}
	for _, tt := range tests {
		s, e, ok := ServiceEnv(tt.dir)
		if s != tt.service || e != tt.env || ok != tt.ok {
			t.Errorf("ServiceEnv(%q) = %q, %q, %v", tt.dir, s, e, ok)
		}
	}
}
