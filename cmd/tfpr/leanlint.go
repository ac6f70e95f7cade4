package main

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/tfpr/tfpr/internal/executor"
)

// leanLintName is cmd/tfpr-lint: `tfpr lint` in an executable without the
// server's dependencies.
const leanLintName = "tfpr-lint"

// execLeanLint replaces this process with tfpr-lint when it sits beside
// tfpr and is the same build, so a lint does not hold tfpr's code pages
// (a third of its peak memory on a large tree). It returns only when it
// does not: then tfpr lints itself, with the same result. A tfpr-lint of
// another commit, or of a tree with changes, could judge with other
// rules, so only the same build is run.
func execLeanLint(args []string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return
	}
	lean := filepath.Join(filepath.Dir(self), leanLintName)
	if !executor.SameBuild(lean, self) {
		return
	}
	_ = syscall.Exec(lean, append([]string{lean}, args...), os.Environ())
}
