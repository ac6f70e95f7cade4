package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// leanLintName is cmd/tfpr-lint: `tfpr lint` in an executable without the
// server's dependencies.
const leanLintName = "tfpr-lint"

// execLeanLint replaces this process with tfpr-lint, given lint's
// arguments, when it sits beside tfpr and sameBuild says it is the same
// build (main passes executor.SameBuild), so a lint does not hold tfpr's
// code pages (about 25 MiB of a large lint's peak memory). It returns only
// when it does not: then tfpr lints itself, with the same result. A
// tfpr-lint of another commit, or of a tree with changes, could judge with
// other rules, so only the same build is run.
func execLeanLint(args []string, sameBuild func(lean, self string) bool) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return
	}
	lean := filepath.Join(filepath.Dir(self), leanLintName)
	if !sameBuild(lean, self) {
		return
	}
	_ = syscall.Exec(lean, append([]string{lean}, args...), os.Environ())
}
