// Package executor starts `tfpr worker` processes somewhere terraform may
// run, and tells later whether one is still alive. The handle it returns is
// stored with the run, so a server that restarts can find its runs again:
// a started run belongs to the store, not to the process tree that made it.
package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind names an executor.
type Kind int

const (
	// Local runs each worker in a bubblewrap sandbox on this machine.
	Local Kind = iota + 1
	// Unsandboxed runs each worker as a plain child process. It exists
	// for machines without user namespaces, and only when asked for by
	// name: terraform then sees everything tfpr's user can see.
	Unsandboxed
	// Kubernetes runs each worker as a Job.
	Kubernetes
)

var kindNames = map[Kind]string{Local: "local", Unsandboxed: "unsandboxed", Kubernetes: "kubernetes"}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("executor(%d)", int(k))
}

// ParseKind reads TFPR_EXECUTOR.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if strings.EqualFold(s, n) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown executor %q (want local, unsandboxed or kubernetes)", s)
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if _, ok := kindNames[k]; !ok {
		return nil, fmt.Errorf("unknown executor kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// Handle identifies a started worker well enough to find it again after
// the server restarts. It is stored as JSON with the run.
type Handle struct {
	Kind  Kind  `json:"kind"`
	RunID int64 `json:"run_id"`
	// PID, StartTicks and BootID identify a local process: a pid alone
	// can be reused, a pid with its start time (in clock ticks since boot,
	// /proc/<pid>/stat field 22) on the same boot cannot.
	PID        int    `json:"pid,omitempty"`
	StartTicks uint64 `json:"start_ticks,omitempty"`
	BootID     string `json:"boot_id,omitempty"`
	// Job is the Kubernetes Job's name.
	Job string `json:"job,omitempty"`
}

// Launch is what an executor needs to start one worker.
type Launch struct {
	// RunID is the worker run's id; the worker fetches its bundle with it.
	RunID int64
	// Token is the run's bearer token for the internal endpoint. It is
	// never written anywhere a log or another run could read it.
	Token string
	// ServerURL is the internal endpoint's base URL, e.g.
	// http://127.0.0.1:8081.
	ServerURL string
	// RunDir is a directory of this run only on the server's machine; a
	// local worker works and leaves its result there.
	RunDir string
	// Env is terraform's base environment (proxies, CA bundles, storage
	// endpoints): never tfpr's own settings or credentials.
	Env map[string]string
	// Stage is "plan" or "apply", for labels and logs.
	Stage string
	// Project is the project's directory, for labels and logs.
	Project string
	// Budget is the run's time budget; a Job's deadline follows from it.
	Budget time.Duration
}

// Executor starts workers and checks on them.
type Executor interface {
	Kind() Kind
	// Start starts a worker for l and returns its handle. The worker must
	// outlive the server: no parent-death signal, its own session.
	Start(ctx context.Context, l Launch) (Handle, error)
	// Alive reports whether the worker h names is still running.
	Alive(ctx context.Context, h Handle) (bool, error)
}

// Finder is an executor that can find a run's worker without its stored
// handle: a server that died between starting a worker and recording the
// handle still finds it after the restart.
type Finder interface {
	// Find returns run runID's handle, whether its worker is still
	// running, and a zero Handle when there is none.
	Find(ctx context.Context, runID int64) (h Handle, alive bool, err error)
}

// Explainer is an executor that can say why a worker ended without a
// result (a deadline, an eviction), for the run's error.
type Explainer interface {
	WhyEnded(ctx context.Context, h Handle) string
}

// ErrNoSandbox is returned by NewLocal when bubblewrap cannot be used.
var ErrNoSandbox = errors.New("bubblewrap (bwrap) is not usable")

// HostnameFor is the hostname a worker of run id runs under. terraform
// records user@hostname as the holder of a state lock, so a lock names
// the run that took it.
func HostnameFor(runID int64) string { return fmt.Sprintf("tfpr-run-%d", runID) }
