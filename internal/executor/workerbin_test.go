package executor

import (
	"os"
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
