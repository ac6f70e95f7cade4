package lintcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this binary's main as `tfpr`: a file that could
// crash the process or hang it must be tried in a child, where a fatal
// error or a hang is an observed outcome rather than the end of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("TFPR_TEST_RUN_MAIN") == "1" {
		// As tfpr's main runs `tfpr lint ARGS...`, which is how tfpr(t, ...)
		// starts it.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		TuneMemory()
		code := Run(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// tfpr prepares `tfpr args...` as a child process with dir as working
// directory.
func tfpr(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TFPR_TEST_RUN_MAIN=1")
	return cmd
}

// runBounded runs cmd and fails the test when it does not end within d.
func runBounded(t *testing.T, cmd *exec.Cmd, d time.Duration) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("tfpr %s did not end within %s; stderr:\n%s", strings.Join(cmd.Args[1:], " "), d, errb.String())
	}
	return 0, "", ""
}

const hostile = "../policy/testdata/hostile"

// TestLintHostileTrees: each tree that got terraform to read or load what
// the policies never saw exits 1 with a finding at its file and line.
func TestLintHostileTrees(t *testing.T) {
	want := map[string]string{
		"templatefile":      "microservices/alpha/dev/t.tpl:1: [deny] file-read",
		"core_file":         "microservices/alpha/dev/main.tf:6: [deny] file-read",
		"provider_function": "microservices/alpha/dev/main.tf:6: [deny] unsafe-function",
		"json_escape":       "microservices/alpha/dev/out.tf.json:4: [deny] file-read",
		"module_cwd":        "modules/a/b/c/d/e/f/g/h/i/main.tf:4: [deny] file-read",
		"fileset":           "microservices/alpha/dev/main.tf:6: [deny] file-read",
		"nonsensitive":      "microservices/alpha/dev/main.tf:11: [deny] unsafe-function",
		"templatestring":    "microservices/alpha/dev/main.tf:10: [deny] unsafe-function",
		"override":          "microservices/alpha/dev/zz_override.tf:1: [deny] unsafe-path",
		"tofu":              "microservices/alpha/dev/main.tofu:1: [deny] unsafe-path",
		"module_escape":     "microservices/alpha/dev/main.tf:6: [deny] unsafe-path",
		"module_host":       "microservices/alpha/dev/main.tf:10: [deny] unsafe-path",
	}
	trees, _ := filepath.Glob(filepath.Join(hostile, "*"))
	if len(trees) != len(want) {
		t.Fatalf("%d trees under %s, %d expected", len(trees), hostile, len(want))
	}
	for _, tree := range trees {
		name := filepath.Base(tree)
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := lint(t, tree)
			if code != 1 || !strings.Contains(stdout, filepath.Join(tree, want[name])) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", code, want[name], stdout, stderr)
			}
		})
	}
}

// TestLintHostileFilesEnd: files that crashed tfpr lint (stack overflow),
// or hung it beyond SIGTERM (a FIFO, a symlink to /dev/zero), are denied
// in a child process that exits 1 promptly.
func TestLintHostileFilesEnd(t *testing.T) {
	const proj = "microservices/alpha/dev"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"symlink to a FIFO", func(t *testing.T, dir string) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(fifo, filepath.Join(dir, "fifo.tf")); err != nil {
				t.Fatal(err)
			}
		}, proj + "/fifo.tf: [deny] parse"},
		{"FIFO", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "pipe.tf"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, proj + "/pipe.tf: [deny] parse"},
		{"symlink to /dev/zero", func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.tf")); err != nil {
				t.Fatal(err)
			}
		}, proj + "/zero.tf: [deny] parse"},
		{"800 KB of nested [", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "deep.tf"), []byte("locals {\n  x = "+strings.Repeat("[", 800_000)+"\n}\n"), 0o644)
		}, proj + "/deep.tf:2: [deny] parse"},
		{"non-UTF-8 byte in a comment", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "main.tf"), []byte("# caf\xe9\noutput \"x\" {\n  value = \"x\"\n}\n"), 0o644)
		}, proj + "/main.tf:1: [deny] parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, proj)
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "backend.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n"), 0o644)
			tt.setup(t, dir)
			code, stdout, stderr := runBounded(t, tfpr(t, root, "lint"), time.Minute)
			if code != 1 || !strings.Contains(stdout, tt.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", code, tt.want, stdout, stderr)
			}
		})
	}
}

// TestLintStopsOnSIGTERM: SIGTERM to a running lint ends it promptly as an
// error (exit 2), never as a pass.
func TestLintStopsOnSIGTERM(t *testing.T) {
	root := t.TempDir()
	for i := range 3000 {
		dir := filepath.Join(root, "svc", strings.Repeat("p", 1+i%5)+time.Duration(i).String())
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\nresource \"terraform_data\" \"x\" {\n  input = \"x\"\n}\n"), 0o644)
	}
	cmd := tfpr(t, root, "lint")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until lint is reading the tree: one of its open files is in it.
	fds := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "fd")
	for reading := false; !reading; {
		select {
		case <-done:
			t.Skip("lint finished before it could be interrupted")
		default:
		}
		ents, _ := os.ReadDir(fds)
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(l, filepath.Join(root, "svc")) {
				reading = true
			}
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("lint did not stop within 30s of SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit %d after SIGTERM, want 2; stderr:\n%s", code, stderr.String())
	}
}

// TestLintCancelled: a cancelled lint is an error, never a pass.
func TestLintCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := Run(ctx, []string{filepath.Join(hostile, "core_file")}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d for a cancelled lint, want 2:\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestLintTimeoutFailsClosed: past --timeout the lint fails with a deny.
func TestLintTimeoutFailsClosed(t *testing.T) {
	stdout, stderr, code := lint(t, "--timeout", "1ns", filepath.Join(cases, "backend", "good"))
	if code != 1 || !strings.Contains(stdout, "[deny] lint-timeout") {
		t.Fatalf("exit %d, want 1 with a lint-timeout deny:\n%s%s", code, stdout, stderr)
	}
}
