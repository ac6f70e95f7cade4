package policy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
)

// at is where a hostile tree must be denied.
type at struct {
	rule, file string
	line       int
}

// hostileTrees are the trees under testdata/hostile: each gets terraform to
// read or run something the policies never saw, and each must be denied
// at the file and line that does it.
var hostileTrees = []struct {
	tree    string
	modules []string
	want    []at
}{
	{"templatefile", nil, []at{{policy.RuleFileRead, projectDir + "/t.tpl", 1}}},
	{"core_file", nil, []at{{policy.RuleFileRead, projectDir + "/main.tf", 6}}},
	{"provider_function", nil, []at{{policy.RuleUnsafeFunction, projectDir + "/main.tf", 6}}},
	{"json_escape", nil, []at{{policy.RuleFileRead, projectDir + "/out.tf.json", 4}}},
	{"module_cwd", []string{"modules/a/b/c/d/e/f/g/h/i"}, []at{{policy.RuleFileRead, "modules/a/b/c/d/e/f/g/h/i/main.tf", 4}}},
	{"fileset", nil, []at{{policy.RuleFileRead, projectDir + "/main.tf", 6}}},
	{"nonsensitive", nil, []at{{policy.RuleUnsafeFunction, projectDir + "/main.tf", 11}}},
	{"templatestring", nil, []at{{policy.RuleUnsafeFunction, projectDir + "/main.tf", 10}}},
	{"override", nil, []at{{policy.RuleUnsafePath, projectDir + "/zz_override.tf", 1}}},
	{"tofu", nil, []at{{policy.RuleUnsafePath, projectDir + "/main.tofu", 1}}},
	{"module_escape", nil, []at{{policy.RuleUnsafePath, projectDir + "/main.tf", 6}}},
	{"module_host", nil, []at{{policy.RuleUnsafePath, projectDir + "/main.tf", 6}, {policy.RuleUnsafePath, projectDir + "/main.tf", 10}}},
}

// denied reports whether got holds an unsuppressed deny for w.
func denied(got []policy.Finding, w at) bool {
	for _, f := range got {
		if f.Rule == w.rule && f.File == w.file && f.Line == w.line && f.Severity == policy.SeverityDeny && !f.Suppressed {
			return true
		}
	}
	return false
}

func TestHostileTreesDenied(t *testing.T) {
	e := newEngine(t)
	for _, tt := range hostileTrees {
		t.Run(tt.tree, func(t *testing.T) {
			got, err := e.LintProject(context.Background(), abs(t, filepath.Join("testdata/hostile", tt.tree)), projectDir, tt.modules)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !denied(got, w) {
					t.Errorf("no %s deny at %s:%d; got %+v", w.rule, w.file, w.line, got)
				}
			}
		})
	}
}

// TestHostileTreesReadHostFiles shows the trees above are real holes: run
// as they stand (with a local backend), terraform prints the host's
// /etc/hostname.
func TestHostileTreesReadHostFiles(t *testing.T) {
	bin := os.Getenv("TFPR_TERRAFORM_BIN")
	if bin == "" || testing.Short() {
		t.Skip("needs TFPR_TERRAFORM_BIN")
	}
	host, err := os.ReadFile("/etc/hostname")
	if err != nil || len(bytes.TrimSpace(host)) == 0 {
		t.Skip("no /etc/hostname to read")
	}
	for _, tree := range []string{"templatefile", "core_file", "json_escape", "module_cwd"} {
		t.Run(tree, func(t *testing.T) {
			// Shallow, so the module's ../ chain reaches / from the project.
			root, err := os.MkdirTemp("/tmp", "tfpr-hostile-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(root) })
			if err := os.CopyFS(root, os.DirFS(abs(t, filepath.Join("testdata/hostile", tree)))); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, projectDir)
			os.WriteFile(filepath.Join(dir, "zz_backend_override.tf"), []byte("terraform {\n  backend \"local\" {}\n}\n"), 0o644)
			for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"plan", "-input=false", "-no-color"}} {
				cmd := exec.Command(bin, args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
				}
				if args[0] == "plan" && !bytes.Contains(out, bytes.TrimSpace(host)) {
					t.Fatalf("terraform plan did not print the host's /etc/hostname:\n%s", out)
				}
			}
		})
	}
}

// writeHostile writes files (repo-relative path -> content) below a new root,
// with a project holding a backend.
func writeHostile(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files[projectDir+"/backend.tf"] = "terraform {\n  backend \"gcs\" {}\n}\n"
	writeTree(t, root, files)
	return root
}

// TestHostileFiles are files that crashed, hung or slipped past lint: each
// is denied where it is, and lint returns.
func TestHostileFiles(t *testing.T) {
	deep := strings.Repeat("[", 800_000)
	tests := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, dir string)
		want  at
	}{
		{"non-UTF-8 byte in a comment", map[string]string{projectDir + "/main.tf": "# caf\xe9\noutput \"x\" {\n  value = file(\"/etc/hostname\")\n}\n"}, nil,
			at{policy.RuleParse, projectDir + "/main.tf", 1}},
		{"800 KB of nested [", map[string]string{projectDir + "/deep.tf": "locals {\n  x = " + deep + "\n}\n"}, nil,
			at{policy.RuleParse, projectDir + "/deep.tf", 2}},
		{"chained unary operators", map[string]string{projectDir + "/deep.tf": "locals {\n  x = " + strings.Repeat("!", 500_000) + "true\n}\n"}, nil,
			at{policy.RuleParse, projectDir + "/deep.tf", 2}},
		{"chained splats", map[string]string{projectDir + "/deep.tf": "locals {\n  x = a" + strings.Repeat("[*]", 330_000) + "\n}\n"}, nil,
			at{policy.RuleParse, projectDir + "/deep.tf", 2}},
		{"nested template directives", map[string]string{projectDir + "/deep.tf": "locals {\n  x = \"" + strings.Repeat("%{if a}", 140_000) + "\"\n}\n"}, nil,
			at{policy.RuleParse, projectDir + "/deep.tf", 2}},
		{"nested JSON", map[string]string{projectDir + "/deep.tf.json": "{\"locals\":\n" + strings.Repeat("[", 500_000)}, nil,
			at{policy.RuleParse, projectDir + "/deep.tf.json", 2}},
		{"nested template in a JSON string", map[string]string{projectDir + "/deep.tf.json": "{\"locals\": {\n\"x\": \"${" + strings.Repeat("[", 300_000) + "\"}}"}, nil,
			at{policy.RuleParse, projectDir + "/deep.tf.json", 2}},
		{"nested tfvars", map[string]string{projectDir + "/terraform.tfvars": "x = 1\ny = " + deep + "\n"}, nil,
			at{policy.RuleParse, projectDir + "/terraform.tfvars", 2}},
		{"nested auto.tfvars.json", map[string]string{projectDir + "/a.auto.tfvars.json": "{\"y\":\n" + strings.Repeat("[", 500_000)}, nil,
			at{policy.RuleParse, projectDir + "/a.auto.tfvars.json", 2}},
		{"nested template file", map[string]string{
			projectDir + "/main.tf": "output \"x\" {\n  value = templatefile(\"${path.module}/t.tpl\", {})\n}\n",
			projectDir + "/t.tpl":   "ok\n${" + strings.Repeat("(", 300_000) + "}\n",
		}, nil, at{policy.RuleFileRead, projectDir + "/t.tpl", 2}},
		{"symlink to /dev/zero", map[string]string{}, func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.tf")); err != nil {
				t.Fatal(err)
			}
		}, at{policy.RuleParse, projectDir + "/zero.tf", 0}},
		{"FIFO", map[string]string{}, func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo.tf"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, at{policy.RuleParse, projectDir + "/fifo.tf", 0}},
		{"symlink to a FIFO in the repository", map[string]string{}, func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("fifo", filepath.Join(dir, "link.tf")); err != nil {
				t.Fatal(err)
			}
		}, at{policy.RuleParse, projectDir + "/link.tf", 0}},
		{"too many files", map[string]string{}, func(t *testing.T, dir string) {
			for i := range 1001 {
				os.WriteFile(filepath.Join(dir, "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String()+".tf"), nil, 0o644)
			}
		}, at{policy.RuleParse, projectDir, 0}},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeHostile(t, tt.files)
			if tt.setup != nil {
				tt.setup(t, filepath.Join(root, projectDir))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			got, err := e.LintProject(ctx, root, projectDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !denied(got, tt.want) {
				t.Errorf("no %s deny at %s:%d; got %+v", tt.want.rule, tt.want.file, tt.want.line, got)
			}
		})
	}
}

// TestLintLinearInFileSize: 1 MB of file( in a .tf.json once took 52 s and
// 2 GB, recounting lines for each call. Memory is the steady measure of
// work: four times the calls may cost about four times as much, never
// sixteen.
func TestLintLinearInFileSize(t *testing.T) {
	e := newEngine(t)
	alloc := func(calls int) uint64 {
		var b strings.Builder
		b.WriteString("{\"locals\": {\n")
		for i := range calls {
			fmt.Fprintf(&b, "\"a%d\": \"${file(\\\"/etc/hostname\\\")}\",\n", i)
		}
		b.WriteString("\"end\": 1}}\n")
		root := writeHostile(t, map[string]string{projectDir + "/x.tf.json": b.String()})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err := e.LintProject(context.Background(), root, projectDir, nil)
		runtime.ReadMemStats(&after)
		if err != nil || !denied(got, at{policy.RuleFileRead, projectDir + "/x.tf.json", calls + 1}) {
			t.Fatalf("lint of %d calls (%d bytes): err %v, %d findings", calls, b.Len(), err, len(got))
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, big := alloc(5_000), alloc(20_000)
	t.Logf("allocated %d bytes for 5,000 calls, %d for 20,000", small, big)
	if big > 8*small {
		t.Errorf("lint allocated %d bytes for 20,000 calls but %d for 5,000: not linear", big, small)
	}
	// The original input, not even JSON: denied, and at once.
	root := writeHostile(t, map[string]string{projectDir + "/x.tf.json": strings.Repeat("file(", 200_000)})
	got, err := e.LintProject(context.Background(), root, projectDir, nil)
	if err != nil || !policy.Blocking(got) {
		t.Fatalf("1 MB of file(: err %v, findings %+v", err, got)
	}
}

// TestLintTimeoutFailsClosed: a project that cannot be linted within the
// budget is denied, not passed.
func TestLintTimeoutFailsClosed(t *testing.T) {
	e, err := policy.New(context.Background(), policyFSFromDefaults(t), policy.Options{LintTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.LintProject(context.Background(), abs(t, "testdata/cases/backend/good"), projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !denied(got, at{policy.RuleLintTimeout, projectDir, 0}) {
		t.Fatalf("want a lint-timeout deny, got %+v", got)
	}
}

// TestProviderFunctionAllowedByName: the platform team may allow a
// provider-defined function by its full name; only that one.
func TestProviderFunctionAllowedByName(t *testing.T) {
	root := abs(t, "testdata/hostile/provider_function")
	for _, tc := range []struct {
		allowed []any
		deny    bool
	}{
		{nil, true},
		{[]any{"provider::google::other"}, true},
		{[]any{"provider::google::region_from_zone"}, false},
	} {
		e, err := policy.New(context.Background(), policyFSFromDefaults(t), policy.Options{Params: map[string]any{"allowed_provider_functions": tc.allowed}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.LintProject(context.Background(), root, projectDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := denied(got, at{policy.RuleUnsafeFunction, projectDir + "/main.tf", 6}); d != tc.deny {
			t.Errorf("allowed %v: denied = %v, want %v (%+v)", tc.allowed, d, tc.deny, got)
		}
	}
}
