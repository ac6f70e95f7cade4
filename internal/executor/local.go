package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tfpr/tfpr/internal/runspec"
)

// Bind is an operator path (TFPR_SANDBOX_BIND) made visible in the sandbox
// at the same path: read-only unless RW.
type Bind struct {
	Path string
	RW   bool
}

// ParseBinds reads TFPR_SANDBOX_BIND: comma-separated absolute paths, each
// optionally suffixed ":rw" (or ":ro", the default).
func ParseBinds(s string) ([]Bind, error) {
	var out []Bind
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		b := Bind{Path: f}
		if p, ok := strings.CutSuffix(f, ":rw"); ok {
			b = Bind{Path: p, RW: true}
		} else if p, ok := strings.CutSuffix(f, ":ro"); ok {
			b.Path = p
		}
		if !filepath.IsAbs(b.Path) || filepath.Clean(b.Path) != b.Path || b.Path == "/" || strings.Contains(b.Path, ":") {
			return nil, fmt.Errorf("TFPR_SANDBOX_BIND entry %d (%q): want a clean absolute path other than / (no colon), optionally with :rw or :ro", i+1, f)
		}
		out = append(out, b)
	}
	return out, nil
}

// LocalOptions configures the local executors.
type LocalOptions struct {
	// Sandbox runs workers under bubblewrap. Off only for the explicit
	// `unsandboxed` executor.
	Sandbox bool
	// Bwrap is the bubblewrap executable; "bwrap" on PATH when empty.
	Bwrap string
	// WorkerBin is the worker executable, tfpr-worker or tfpr, started
	// as `WorkerBin worker --server ...`.
	WorkerBin string
	// TerraformBin and PluginCacheDir are made visible read-only.
	TerraformBin   string
	PluginCacheDir string
	Binds          []Bind
	Log            *slog.Logger
}

// LocalExec runs workers on this machine.
type LocalExec struct {
	opts  LocalOptions
	bwrap string
	boot  string
}

// sandboxDir is where a sandboxed worker sees its run directory.
const sandboxDir = "/run/tfpr"

// NewLocal checks that workers can be started as configured. With Sandbox
// it runs bubblewrap once and fails (wrapping ErrNoSandbox, with bwrap's
// own words) when it cannot create the namespaces.
func NewLocal(ctx context.Context, opts LocalOptions) (*LocalExec, error) {
	if opts.WorkerBin == "" {
		return nil, errors.New("local executor: the tfpr executable for workers is not set")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := &LocalExec{opts: opts, boot: bootID()}
	if !opts.Sandbox {
		return e, nil
	}
	bw := opts.Bwrap
	if bw == "" {
		bw = "bwrap"
	}
	path, err := exec.LookPath(bw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s not found (install the bubblewrap package, or set TFPR_EXECUTOR=unsandboxed to run terraform without a sandbox): %v", ErrNoSandbox, bw, err)
	}
	e.bwrap = path
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	probe := exec.CommandContext(ctx, path, append(e.sandboxArgs(0, os.TempDir()), "--", "/bin/true")...)
	probe.Env = []string{"PATH=/usr/bin:/bin"}
	if out, err := probe.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: %s cannot create a sandbox here (user namespaces may be disabled): %v: %s", ErrNoSandbox, path, err, bytes.TrimSpace(out))
	}
	return e, nil
}

// Kind is Local or Unsandboxed.
func (e *LocalExec) Kind() Kind {
	if e.opts.Sandbox {
		return Local
	}
	return Unsandboxed
}

// sandboxArgs builds bubblewrap's arguments: new user, mount, PID, IPC and
// UTS namespaces (network stays: terraform needs its backend and APIs),
// read-only /usr and the few /etc files name resolution and TLS need, a
// private /tmp and HOME, a /proc showing only the sandbox, and the run
// directory read-write. Nothing else of the host, tfpr's data directory
// included, exists inside. There is no --die-with-parent: a run outlives
// the server that started it.
func (e *LocalExec) sandboxArgs(runID int64, runDir string) []string {
	a := []string{"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--hostname", HostnameFor(runID), "--new-session", "--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", t, d)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
		"/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/pki"} {
		a = append(a, "--ro-bind-try", f, f)
	}
	for _, p := range []string{e.opts.WorkerBin, e.opts.TerraformBin, e.opts.PluginCacheDir} {
		if p != "" {
			a = append(a, "--ro-bind", p, p)
		}
	}
	for _, b := range e.opts.Binds {
		flag := "--ro-bind"
		if b.RW {
			flag = "--bind"
		}
		a = append(a, flag, b.Path, b.Path)
	}
	return append(a, "--bind", runDir, sandboxDir, "--chdir", sandboxDir)
}

// Start launches the worker in its own session, without a parent-death
// signal, its output appended to worker.log in the run directory.
func (e *LocalExec) Start(ctx context.Context, l Launch) (Handle, error) {
	if err := os.MkdirAll(l.RunDir, 0o700); err != nil {
		return Handle{}, fmt.Errorf("start worker for run %d: %w", l.RunID, err)
	}
	dir, home := sandboxDir, "/home/tfpr"
	if !e.opts.Sandbox {
		dir, home = l.RunDir, filepath.Join(l.RunDir, "home")
	}
	args := []string{e.opts.WorkerBin, "worker", "--server", l.ServerURL, "--run", strconv.FormatInt(l.RunID, 10),
		"--dir", dir, "--terraform-bin", e.opts.TerraformBin}
	if e.opts.PluginCacheDir != "" {
		args = append(args, "--plugin-cache-dir", e.opts.PluginCacheDir)
	}
	env := maps.Clone(l.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["HOME"], env["TMPDIR"] = home, "/tmp"
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	env[runspec.TokenEnv] = l.Token
	if !e.opts.Sandbox {
		if err := os.MkdirAll(home, 0o700); err != nil {
			return Handle{}, fmt.Errorf("start worker for run %d: %w", l.RunID, err)
		}
		env["TMPDIR"] = os.TempDir()
	}
	name := args[0]
	var infoR, infoW *os.File
	if e.opts.Sandbox {
		// bwrap reports the host pid of the sandbox's PID-namespace init on
		// fd 3. That process is the run: when it dies the kernel ends
		// everything in the sandbox, whereas the outer bwrap can die and
		// leave the sandbox running.
		var err error
		if infoR, infoW, err = os.Pipe(); err != nil {
			return Handle{}, fmt.Errorf("start worker for run %d: %w", l.RunID, err)
		}
		defer infoR.Close()
		args = append(append([]string{e.bwrap, "--info-fd", "3"}, e.sandboxArgs(l.RunID, l.RunDir)...), append([]string{"--"}, args...)...)
		name = e.bwrap
	}
	logf, err := os.OpenFile(filepath.Join(l.RunDir, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return Handle{}, fmt.Errorf("start worker for run %d: %w", l.RunID, err)
	}
	defer logf.Close()
	// Not CommandContext: the worker must not die with the request that
	// started it.
	cmd := exec.Command(name, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Dir = l.RunDir
	cmd.Stdout, cmd.Stderr = logf, logf
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if infoW != nil {
		cmd.ExtraFiles = []*os.File{infoW}
	}
	err = cmd.Start()
	if infoW != nil {
		infoW.Close()
	}
	if err != nil {
		return Handle{}, fmt.Errorf("start worker for run %d: %w", l.RunID, err)
	}
	pid := cmd.Process.Pid
	// Reap it when it ends while this process lives; after a restart the
	// worker is someone else's child and Alive watches /proc instead.
	go cmd.Wait()
	if infoR != nil {
		if pid, err = sandboxPID(infoR); err != nil {
			cmd.Process.Kill()
			return Handle{}, fmt.Errorf("start worker for run %d: %w", l.RunID, err)
		}
	}
	ticks, err := startTicks(pid)
	if err != nil {
		return Handle{}, fmt.Errorf("start worker for run %d: read its start time: %w", l.RunID, err)
	}
	e.opts.Log.InfoContext(ctx, "worker started", "worker_run", l.RunID, "pid", pid, "worker_bin", e.opts.WorkerBin, "executor", e.Kind().String(), "stage", l.Stage, "project", l.Project)
	return Handle{Kind: e.Kind(), RunID: l.RunID, PID: pid, StartTicks: ticks, BootID: e.boot}, nil
}

// Alive reports whether the process h names still runs: same boot, same
// pid with the same start time, not a zombie, and its command line names
// the run. Any mismatch means the worker is gone (and the pid reused).
func (e *LocalExec) Alive(_ context.Context, h Handle) (bool, error) {
	if h.Kind != Local && h.Kind != Unsandboxed {
		return false, fmt.Errorf("run %d: a %s handle is not a local process", h.RunID, h.Kind)
	}
	if h.PID <= 0 || h.BootID != e.boot {
		return false, nil
	}
	st, err := readStat(h.PID)
	if err != nil || st.state == 'Z' || st.start != h.StartTicks {
		return false, nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", h.PID))
	if err != nil {
		return false, nil
	}
	return bytes.Contains(cmdline, []byte("\x00--run\x00"+strconv.FormatInt(h.RunID, 10)+"\x00")), nil
}

// sandboxPID reads bwrap's info document, {"child-pid": N, ...}, bounded.
func sandboxPID(r *os.File) (int, error) {
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	var info struct {
		ChildPID int `json:"child-pid"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 4096)).Decode(&info); err != nil || info.ChildPID <= 0 {
		return 0, fmt.Errorf("bubblewrap did not report the sandbox's pid: %v", err)
	}
	return info.ChildPID, nil
}
