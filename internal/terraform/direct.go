package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// init, plan, show and apply run terraform directly rather than through
// tfexec: tfexec asks `terraform version` before every command it runs on
// a fresh handle, which doubled the terraform processes of a plan. The version is asked
// once per binary (see versionCache) and plan's own output is the plan
// text, so a plan is init, plan and show -json.

// binKey identifies one terraform executable: a binary replaced in place
// (an upgrade) has a new size or modification time and is asked again.
type binKey struct {
	path  string
	size  int64
	mtime int64 // Unix nanoseconds: comparable across processes, unlike time.Time's location
}

// Binary is one terraform executable, identified by path, size and
// modification time, and the version it reported. The server asks its
// terraform once at start and hands the answer to every worker
// (Options.Known), so a run starts terraform three times, not four.
type Binary struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Version string `json:"version"`
}

func (b Binary) key() binKey { return binKey{path: b.Path, size: b.Size, mtime: b.ModTime} }

// Identify runs `version -json` on the executable opts.Bin names and
// returns it with its version; a terraform too old for tfpr's flags, or
// one that does not run, is an error.
func Identify(ctx context.Context, opts Options) (Binary, error) {
	e, err := New(opts)
	if err != nil {
		return Binary{}, err
	}
	// The key the version was asked under: a second stat could describe
	// a file replaced in between.
	key, v, err := e.identify(ctx)
	if err != nil {
		return Binary{}, err
	}
	return Binary{Path: key.path, Size: key.size, ModTime: key.mtime, Version: v}, nil
}

// versionCache remembers the version of each binary an Exec ran.
type versionCache struct {
	mu   sync.Mutex
	vers map[binKey]string
}

func (c *versionCache) get(key binKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vers[key]
	return v, ok
}

func (c *versionCache) put(key binKey, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vers == nil {
		c.vers = map[binKey]string{}
	}
	c.vers[key] = v
}

func (e *Exec) binKey() (binKey, error) {
	p, err := exec.LookPath(e.bin)
	if err != nil {
		return binKey{}, fmt.Errorf("find terraform executable %q: %w", e.bin, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return binKey{}, fmt.Errorf("stat terraform executable %s: %w", p, err)
	}
	return binKey{path: p, size: st.Size(), mtime: st.ModTime().UnixNano()}, nil
}

// minVersion is the oldest terraform whose plan and show flags tfpr uses.
var minVersion = [3]int{1, 0, 0}

var versionRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// checkedVersion returns the binary's version, running `version -json`
// only the first time this Exec sees that binary, and refuses versions too
// old for the flags tfpr passes.
func (e *Exec) checkedVersion(ctx context.Context) (string, error) {
	_, v, err := e.identify(ctx)
	return v, err
}

// identify is checkedVersion that also returns the binary it described.
func (e *Exec) identify(ctx context.Context) (binKey, string, error) {
	key, err := e.binKey()
	if err != nil {
		return binKey{}, "", &Error{Command: "version", Dir: os.TempDir(), Err: err}
	}
	if v, ok := e.versions.get(key); ok {
		return key, v, nil
	}
	out, err := e.direct(ctx, os.TempDir(), "version", nil, "version", "-json")
	if err != nil {
		return binKey{}, "", err
	}
	var doc struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || doc.Version == "" {
		return binKey{}, "", &Error{Command: "version", Dir: os.TempDir(), Err: fmt.Errorf("read `%s version -json`: no terraform_version in %q", key.path, firstLine(string(out)))}
	}
	if err := supported(key.path, doc.Version); err != nil {
		return binKey{}, "", &Error{Command: "version", Dir: os.TempDir(), Err: err}
	}
	e.versions.put(key, doc.Version)
	return key, doc.Version, nil
}

// supported refuses a version that is not a number or is older than the
// flags tfpr passes need.
func supported(path, version string) error {
	m := versionRe.FindStringSubmatch(version)
	if m == nil {
		return fmt.Errorf("%s reports version %q, not a version number", path, version)
	}
	var got [3]int
	for i := range got {
		fmt.Sscan(m[i+1], &got[i])
	}
	if cmpVersion(got, minVersion) < 0 {
		return fmt.Errorf("%s is terraform %s; tfpr needs %d.%d.%d or later", path, version, minVersion[0], minVersion[1], minVersion[2])
	}
	return nil
}

func cmpVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// environ is the environment of a direct command: the Exec's allowlist
// plus what tfexec sets for its own commands, so both kinds of command see
// the same settings.
func (e *Exec) environ() []string {
	env := make(map[string]string, len(e.env)+8)
	for k, v := range e.env {
		env[k] = v
	}
	env[envAutomation] = "1"
	ua := "tfpr"
	if e.userAgent != "" {
		ua = e.userAgent + " " + ua
	}
	env[envUserAgent] = ua
	env[envLog], env[envLogCore], env[envLogPath], env[envLogProvider] = "", "", "", ""
	if e.logPath != "" {
		env[envLog], env[envLogCore], env[envLogPath], env[envLogProvider] = e.log, e.logCore, e.logPath, e.logProv
	}
	delete(env, "TF_WORKSPACE")
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// direct runs terraform args in dir and returns its stdout. Cancelling ctx
// interrupts terraform (SIGINT to its process group, as tfexec does) and
// kills it waitDelay later. With exit2 set, exit status 2 is a success
// that sets *exit2 (plan -detailed-exitcode's "changes present"). The
// output is returned on failure too.
func (e *Exec) direct(ctx context.Context, dir, name string, exit2 *bool, args ...string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Command: name, Dir: dir, Err: err}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Dir = dir
	cmd.Env = e.environ()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if w := e.watched(name); w != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, w), io.MultiWriter(&stderr, w)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = waitDelay
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	var ee *exec.ExitError
	if exit2 != nil && errors.As(err, &ee) && ee.ExitCode() == 2 && ctx.Err() == nil {
		*exit2 = true
		err = nil
	}
	e.exited(name, err, elapsed)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		ce := &Error{Command: name, Dir: dir, Stderr: trimDiagnostics(stderr.String(), stderrMax), Err: err}
		if name == "apply" && isStale(stderr.String()) {
			ce.kind = ErrStalePlan
		}
		e.logger.WarnContext(ctx, "terraform command failed", "command", name, "dir", dir, "duration", elapsed, "error", firstLine(err.Error()))
		return stdout.Bytes(), ce
	}
	e.logger.DebugContext(ctx, "terraform command", "command", name, "dir", dir, "duration", elapsed)
	return stdout.Bytes(), nil
}

// savedPlanNote is the end of plan's output when it writes a plan file: a
// rule, then where the file went and how to apply it. It names a path on
// the server, so it never reaches a report.
var savedPlanNote = regexp.MustCompile(`(?s)\n[─-]{10,}\s*\n+Saved the plan to: .*$`)

// planText is plan's output as the human-readable plan: the note on the
// saved file removed.
func planText(out []byte) string {
	return strings.TrimSpace(savedPlanNote.ReplaceAllString(string(out), ""))
}

// ExitCode is the exit code behind a command's error: 0 for nil, the
// process's code when it exited, -1 when it was killed or never started.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
