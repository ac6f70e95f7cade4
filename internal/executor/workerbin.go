package executor

import (
	"debug/buildinfo"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// LeanWorkerName is the lean worker executable (cmd/tfpr-worker), looked
// for beside tfpr's own executable.
const LeanWorkerName = "tfpr-worker"

// WorkerSource says how the worker executable was chosen.
type WorkerSource int

const (
	// WorkerConfigured is the operator's TFPR_WORKER_BIN.
	WorkerConfigured WorkerSource = iota + 1
	// WorkerLean is tfpr-worker found beside tfpr.
	WorkerLean
	// WorkerSelf is tfpr itself, started as `tfpr worker`: it works, but
	// every run pays for initialising packages a worker never uses.
	WorkerSelf
)

var workerSourceNames = map[WorkerSource]string{WorkerConfigured: "configured", WorkerLean: "lean", WorkerSelf: "self"}

func (s WorkerSource) String() string {
	if n, ok := workerSourceNames[s]; ok {
		return n
	}
	return fmt.Sprintf("worker-source(%d)", int(s))
}

// FindWorker picks the executable every run starts: configured when set
// (which must then be an executable file, or tfpr refuses to start rather
// than fail every run), else tfpr-worker in self's directory, else self.
// Both executables take the same command line (`worker` and the flags),
// so the executors start either the same way.
func FindWorker(configured, self string) (string, WorkerSource, error) {
	if configured != "" {
		abs, err := filepath.Abs(configured)
		if err == nil {
			err = checkExecutable(abs)
		}
		if err != nil {
			return "", 0, fmt.Errorf("TFPR_WORKER_BIN %s: %w", configured, err)
		}
		return abs, WorkerConfigured, nil
	}
	if self == "" {
		return "", 0, fmt.Errorf("no worker executable: tfpr cannot find its own executable; set TFPR_WORKER_BIN")
	}
	lean := filepath.Join(filepath.Dir(self), LeanWorkerName)
	if checkExecutable(lean) == nil {
		return lean, WorkerLean, nil
	}
	return self, WorkerSelf, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("not an executable file (mode %s)", fi.Mode())
	}
	return nil
}

// BuildMismatch says how the builds of two executables differ, read from
// their files without running them: the commit each was built from and
// whether its tree had changes. It is "" when they agree, or when either
// file does not say (a build outside a git checkout, or with
// -buildvcs=false).
func BuildMismatch(worker, self string) (string, error) {
	w, err := buildinfo.ReadFile(worker)
	if err != nil {
		return "", fmt.Errorf("read the build of %s: %w", worker, err)
	}
	s, err := buildinfo.ReadFile(self)
	if err != nil {
		return "", fmt.Errorf("read the build of %s: %w", self, err)
	}
	wv, sv := vcsOf(w), vcsOf(s)
	if wv == "" || sv == "" || wv == sv {
		return "", nil
	}
	return fmt.Sprintf("%s was built from %s, %s from %s", worker, wv, self, sv), nil
}

// SameBuild reports whether executable a is part of the same build of
// tfpr as executable b, read from their files without running them: the
// same Go, main module, commit (of a tree without changes) and build
// settings but -ldflags, and each module a links is the one b links
// (a may link fewer). Builds that do not record their commit (outside a
// git checkout, -buildvcs=false) are never the same build. -ldflags is
// left out because tfpr's builds stamp main.version with it; a -X into
// another package would go unnoticed.
func SameBuild(a, b string) bool {
	ai, err := buildinfo.ReadFile(a)
	if err != nil {
		return false
	}
	bi, err := buildinfo.ReadFile(b)
	return err == nil && sameBuild(ai, bi)
}

func sameBuild(a, b *debug.BuildInfo) bool {
	av := vcsOf(a)
	if a.GoVersion != b.GoVersion || !sameModule(&a.Main, &b.Main) || av == "" || av != vcsOf(b) || strings.HasSuffix(av, uncommitted) {
		return false
	}
	settings := func(bi *debug.BuildInfo) map[string]string {
		m := map[string]string{}
		for _, s := range bi.Settings {
			if s.Key != "-ldflags" {
				m[s.Key] = s.Value
			}
		}
		return m
	}
	if !maps.Equal(settings(a), settings(b)) {
		return false
	}
	deps := map[string]*debug.Module{}
	for _, d := range b.Deps {
		deps[d.Path] = d
	}
	for _, d := range a.Deps {
		if !sameModule(d, deps[d.Path]) {
			return false
		}
	}
	return true
}

func sameModule(a, b *debug.Module) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Path == b.Path && a.Version == b.Version && a.Sum == b.Sum && sameModule(a.Replace, b.Replace)
}

const uncommitted = " (with uncommitted changes)"

// vcsOf is the commit a build came from, marked when its tree had changes.
func vcsOf(bi *debug.BuildInfo) string {
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "true" {
		rev += uncommitted
	}
	return rev
}
