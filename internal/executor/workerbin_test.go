package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindWorker(t *testing.T) {
	install := func(t *testing.T, names map[string]os.FileMode) string {
		dir := t.TempDir()
		for n, mode := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), mode); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("lean beside tfpr", func(t *testing.T) {
		dir := install(t, map[string]os.FileMode{"tfpr": 0o755, "tfpr-worker": 0o755})
		bin, src, err := FindWorker("", filepath.Join(dir, "tfpr"))
		if err != nil || bin != filepath.Join(dir, "tfpr-worker") || src != WorkerLean {
			t.Fatalf("got %s %s %v, want %s/tfpr-worker lean", bin, src, err, dir)
		}
	})
	for name, names := range map[string]map[string]os.FileMode{
		"no lean worker":             {"tfpr": 0o755},
		"lean worker not executable": {"tfpr": 0o755, "tfpr-worker": 0o644},
	} {
		t.Run(name, func(t *testing.T) {
			dir := install(t, names)
			bin, src, err := FindWorker("", filepath.Join(dir, "tfpr"))
			if err != nil || bin != filepath.Join(dir, "tfpr") || src != WorkerSelf {
				t.Fatalf("got %s %s %v, want tfpr itself", bin, src, err)
			}
		})
	}
	t.Run("configured wins", func(t *testing.T) {
		dir := install(t, map[string]os.FileMode{"tfpr": 0o755, "tfpr-worker": 0o755, "other": 0o755})
		bin, src, err := FindWorker(filepath.Join(dir, "other"), filepath.Join(dir, "tfpr"))
		if err != nil || bin != filepath.Join(dir, "other") || src != WorkerConfigured {
			t.Fatalf("got %s %s %v, want the configured one", bin, src, err)
		}
	})
	t.Run("configured but missing", func(t *testing.T) {
		dir := install(t, map[string]os.FileMode{"tfpr": 0o755, "tfpr-worker": 0o755})
		missing := filepath.Join(dir, "nope")
		_, _, err := FindWorker(missing, filepath.Join(dir, "tfpr"))
		if err == nil || !strings.Contains(err.Error(), "TFPR_WORKER_BIN") || !strings.Contains(err.Error(), missing) {
			t.Fatalf("err %v, want one naming TFPR_WORKER_BIN and %s", err, missing)
		}
	})
	t.Run("configured but a directory", func(t *testing.T) {
		dir := install(t, nil)
		if _, _, err := FindWorker(dir, filepath.Join(dir, "tfpr")); err == nil || !strings.Contains(err.Error(), "not an executable file") {
			t.Fatalf("err %v, want not an executable file", err)
		}
	})
}

// BuildMismatch tells a worker built from another commit, or from a tree
// with changes, and says nothing when a build does not record its commit.
func TestBuildMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four small programs")
	}
	src := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	build := func(name string, flags ...string) string {
		t.Helper()
		bin := filepath.Join(out, name)
		cmd := exec.Command("go", append(append([]string{"build", "-buildvcs=true"}, flags...), "-o", bin, ".")...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, b)
		}
		return bin
	}
	git("init", "--quiet")
	write("go.mod", "module example.com/w\n\ngo 1.22\n")
	write("main.go", "package main\n\nfunc main() {}\n")
	git("add", ".")
	git("commit", "--quiet", "-m", "one")
	first := build("first")
	same := build("same")
	tagged := build("tagged", "-tags", "other")
	stamped := build("stamped", "-ldflags", "-X main.version=1")
	unstamped := build("unstamped", "-buildvcs=false")
	write("main.go", "package main\n\nfunc main() { println() }\n")
	dirty := build("dirty")
	git("commit", "--quiet", "-am", "two")
	second := build("second")

	for _, c := range []struct {
		name, worker, self string
		want               string
	}{
		{"same commit", same, first, ""},
		{"other commit", second, first, "was built from"},
		{"uncommitted changes", dirty, first, "with uncommitted changes"},
		{"no commit recorded", unstamped, second, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := BuildMismatch(c.worker, c.self)
			if err != nil {
				t.Fatal(err)
			}
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("BuildMismatch = %q, want %q", got, c.want)
			}
		})
	}
	if _, err := BuildMismatch(filepath.Join(src, "go.mod"), first); err == nil {
		t.Error("a file that is no Go executable gave no error")
	}
	// SameBuild decides whether tfpr lint may run tfpr-lint instead: only
	// a build known to be the same one.
	for _, c := range []struct {
		name string
		a, b string
		want bool
	}{
		{"same commit", same, first, true},
		{"same commit, other -ldflags", same, stamped, true},
		{"same commit, other build tags", tagged, first, false},
		{"other commit", second, first, false},
		{"uncommitted changes", dirty, dirty, false},
		{"no commit recorded", unstamped, unstamped, false},
		{"not an executable", filepath.Join(src, "go.mod"), first, false},
	} {
		if got := SameBuild(c.a, c.b); got != c.want {
			t.Errorf("SameBuild, %s: %v, want %v", c.name, got, c.want)
		}
	}
}
