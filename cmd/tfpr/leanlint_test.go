package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets TestLintExecsTheLeanExecutable run this binary's lint
// start-up as `tfpr lint ARGS...`, deciding the build question by the
// environment.
func TestMain(m *testing.M) {
	if same, ok := os.LookupEnv("TFPR_TEST_LEAN_SAME_BUILD"); ok && len(os.Args) > 1 && os.Args[1] == "lint" {
		execLeanLint(os.Args[2:], func(string, string) bool { return same == "1" })
		fmt.Println("linted in tfpr")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLintExecsTheLeanExecutable puts a stand-in tfpr-lint beside this
// executable that records how it was started: tfpr lint must start it with
// exactly lint's arguments (a dir named "lint" stays a dir) and its
// environment, and must not start it when it is not the same build.
func TestLintExecsTheLeanExecutable(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		t.Fatal(err)
	}
	lean := filepath.Join(filepath.Dir(self), leanLintName)
	if _, err := os.Lstat(lean); err == nil {
		t.Skipf("%s exists; not replacing it", lean)
	}
	record := filepath.Join(t.TempDir(), "started")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$0\" \"$@\" \"env=$TFPR_TEST_MARK\" > %q\n", record)
	if err := os.WriteFile(lean, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(lean) })

	run := func(same string) string {
		t.Helper()
		os.Remove(record)
		cmd := exec.Command(self, "lint", "--format", "json", "lint")
		cmd.Env = append(os.Environ(), "TFPR_TEST_LEAN_SAME_BUILD="+same, "TFPR_TEST_MARK=kept")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tfpr lint: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("1"); out != "" {
		t.Errorf("the same build: tfpr went on itself: %q", out)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the same build: tfpr-lint was not started: %v", err)
	}
	if want := strings.Join([]string{lean, "--format", "json", "lint", "env=kept"}, "\n") + "\n"; string(got) != want {
		t.Errorf("tfpr-lint started as\n%s\nwant\n%s", got, want)
	}
	if out := run("0"); !strings.Contains(out, "linted in tfpr") {
		t.Errorf("another build: got %q, want tfpr to lint itself", out)
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("another build: tfpr-lint was started")
	}
}
