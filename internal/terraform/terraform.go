// Package terraform runs terraform (or OpenTofu) for tfpr through
// terraform-exec: init against a GCS backend, plan to a saved plan file,
// apply that plan, and force-unlock a stuck state lock.
//
// Every command gets exactly the environment the caller supplies (never the
// server's own), its output is captured into buffers, and failures are
// reported as *Error values naming the command, the directory and
// terraform's diagnostics.
package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// ErrStalePlan is matched (errors.Is) by Apply errors when terraform refuses
// a saved plan because the state changed after the plan was made. The fix is
// to plan again.
var ErrStalePlan = errors.New("saved plan is stale: the state changed since it was planned")

// Environment keys tfexec refuses in SetEnv. Some are honoured through
// tfexec's own options, the rest are rejected by New so that a caller never
// believes a setting took effect when it did not.
const (
	envLog         = "TF_LOG"
	envLogCore     = "TF_LOG_CORE"
	envLogPath     = "TF_LOG_PATH"
	envLogProvider = "TF_LOG_PROVIDER"
	envUserAgent   = "TF_APPEND_USER_AGENT"
	envInput       = "TF_INPUT"
	envAutomation  = "TF_IN_AUTOMATION"
	envCheckpoint  = "CHECKPOINT_DISABLE"
	envPluginCache = "TF_PLUGIN_CACHE_DIR"
)

// Options configures an Exec.
type Options struct {
	// Bin is the terraform or tofu executable. Required.
	Bin string

	// Env is the complete environment terraform runs with; the server's own
	// environment is never inherited, so the caller builds an allowlist
	// (HOME, PATH, credentials, ...).
	//
	// tfexec manages some TF_* variables itself and refuses them here, so
	// they are mapped as follows:
	//   - TF_LOG, TF_LOG_CORE, TF_LOG_PROVIDER, TF_LOG_PATH: passed through
	//     tfexec's SetLog* options. They only take effect when TF_LOG_PATH is
	//     set, because tfexec keeps terraform's logs off the captured stderr.
	//   - TF_APPEND_USER_AGENT: passed through SetAppendUserAgent.
	//   - TF_IN_AUTOMATION and TF_INPUT: accepted and ignored; tfexec always
	//     sets TF_IN_AUTOMATION=1 and passes -input=false.
	//   - TF_VAR_*, TF_CLI_ARGS, TF_CLI_ARGS_*, TF_WORKSPACE,
	//     TF_REATTACH_PROVIDERS, TF_DISABLE_PLUGIN_TLS, TF_SKIP_PROVIDER_VERIFY:
	//     rejected by New. Variables belong in *.auto.tfvars files in the
	//     project, and tfpr always uses the default workspace.
	//
	// On top of Env terraform also sees what tfexec always sets:
	// TF_IN_AUTOMATION=1, TF_APPEND_USER_AGENT, empty TF_LOG* (unless set
	// above), and CHECKPOINT_DISABLE, which defaults to 1 here when Env does
	// not set it so the server never phones home nor leaks its own value.
	Env map[string]string

	// PluginCacheDir becomes TF_PLUGIN_CACHE_DIR when set.
	PluginCacheDir string

	// Known are executables whose version was already asked (Identify).
	// One still at the same path with the same size and modification
	// time is not asked again; anything else is.
	Known []Binary

	// LockPlans makes Plan take the state lock. Off, plans read state
	// without locking: they never block an apply and a read-only identity
	// can make them. The apply that follows always locks.
	LockPlans bool

	// Log receives one record per terraform command. Nil discards.
	Log *slog.Logger

	// Output receives what a person watching terraform would see, as it
	// is printed: init's, plan's, apply's and force-unlock's stdout and
	// stderr (never show -json's, which is data, not output). Nil: none.
	Output io.Writer

	// OnExit is told every terraform command that ended and its exit code
	// (-1: it did not exit on its own, or never started). Plan's exit 2
	// ("changes present") is a success and reported as 0. took is how long
	// the command ran. Nil: nobody.
	OnExit func(command string, code int, took time.Duration)
}

// Backend is the partial configuration of a `backend "gcs" {}` block,
// passed to init as -backend-config values.
type Backend struct {
	Bucket string
	Prefix string
}

// ResourceChange is one resource that a plan changes.
type ResourceChange struct {
	Address string
	// Actions as terraform reports them, e.g. ["create"], ["update"],
	// ["delete", "create"] for a replacement.
	Actions []string
}

// Plan is the result of a successful plan.
type Plan struct {
	// File is the absolute path of the saved plan, to pass to Apply.
	File string
	// HasChanges is false when applying the plan would change nothing,
	// outputs included.
	HasChanges bool
	// Counts as terraform prints them in "Plan: N to add, N to change,
	// N to destroy"; a replacement counts in both Add and Destroy.
	Add, Change, Destroy, Import int
	// Changes lists resources with actions other than no-op or read.
	Changes []ResourceChange
	// Summary is what a reviewer reads first: counts by kind of change.
	Summary Summary
	// Text is the human-readable plan: plan's own output, without the note
	// on where the plan file was saved.
	Text string
	// JSON is the machine-readable plan (`show -json planfile`).
	JSON []byte
}

// Exec runs terraform commands. It holds no per-run state, so one Exec may
// serve many concurrent runs in different directories.
type Exec struct {
	bin       string
	env       map[string]string
	log       string
	logCore   string
	logPath   string
	logProv   string
	userAgent string
	logger    *slog.Logger
	lockPlans bool
	versions  *versionCache
	output    io.Writer
	onExit    func(command string, code int, took time.Duration)
}

const (
	// stderrMax caps the diagnostics kept in an Error.
	stderrMax = 16 << 10
	// waitDelay is how long an interrupted terraform gets to release its
	// lock and write state before it is killed.
	waitDelay = 60 * time.Second
)

// New checks opts and returns an Exec.
func New(opts Options) (*Exec, error) {
	if opts.Bin == "" {
		return nil, errors.New("terraform: Options.Bin is empty: set the terraform or tofu executable")
	}
	env := make(map[string]string, len(opts.Env)+2)
	e := &Exec{bin: opts.Bin, logger: opts.Log, lockPlans: opts.LockPlans, versions: &versionCache{}, output: opts.Output, onExit: opts.OnExit}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	for k, v := range opts.Env {
		switch {
		case k == envLog:
			e.log = v
		case k == envLogCore:
			e.logCore = v
		case k == envLogPath:
			e.logPath = v
		case k == envLogProvider:
			e.logProv = v
		case k == envUserAgent:
			e.userAgent = v
		case k == envInput, k == envAutomation:
			// tfexec sets both itself.
		case strings.HasPrefix(k, "TF_VAR_"):
			return nil, fmt.Errorf("terraform: Options.Env sets %s: tfexec cannot pass TF_VAR_* variables; put values in a *.auto.tfvars file in the project", k)
		case len(tfexec.ProhibitedEnv(map[string]string{k: v})) > 0:
			return nil, fmt.Errorf("terraform: Options.Env sets %s, which tfpr does not support", k)
		default:
			env[k] = v
		}
	}
	if _, ok := env[envCheckpoint]; !ok {
		env[envCheckpoint] = "1"
	}
	if opts.PluginCacheDir != "" {
		env[envPluginCache] = opts.PluginCacheDir
	}
	e.env = env
	for _, b := range opts.Known {
		if supported(b.Path, b.Version) == nil {
			e.versions.put(b.key(), b.Version)
		}
	}
	return e, nil
}

// Version returns the version terraform reports, e.g. "1.11.4". It is
// asked once per binary (path, size and modification time) per Exec.
func (e *Exec) Version(ctx context.Context) (string, error) {
	return e.checkedVersion(ctx)
}

// Plan runs init and `plan -out=planFile` in dir, whose own output is the
// plan text, then reads the saved plan back as JSON: three terraform
// commands, plus `version` the first time the binary is used. A relative
// planFile is relative to dir. Cancelling ctx interrupts terraform; plans
// are safe to abandon.
func (e *Exec) Plan(ctx context.Context, dir string, be Backend, planFile string) (*Plan, error) {
	if planFile == "" {
		return nil, fmt.Errorf("terraform plan in %s: plan file path is empty", dir)
	}
	if _, err := e.checkedVersion(ctx); err != nil {
		return nil, err
	}
	if err := e.init(ctx, dir, be); err != nil {
		return nil, err
	}
	abs, err := planPath(dir, planFile)
	if err != nil {
		return nil, fmt.Errorf("terraform plan in %s: %w", dir, err)
	}
	p := &Plan{File: abs}
	out, err := e.direct(ctx, dir, "plan", &p.HasChanges, "plan", "-no-color", "-input=false", "-detailed-exitcode",
		"-lock="+strconv.FormatBool(e.lockPlans), "-out="+abs)
	if err != nil {
		return nil, err
	}
	p.Text = planText(out)

	raw, err := e.direct(ctx, dir, "show -json", nil, "show", "-json", "-no-color", abs)
	if err != nil {
		return nil, err
	}
	p.JSON = bytes.TrimSpace(raw)
	var parsed tfjson.Plan
	if err := json.Unmarshal(p.JSON, &parsed); err != nil {
		return nil, &Error{Command: "show -json", Dir: dir, Err: fmt.Errorf("decode the plan's JSON: %w", err)}
	}
	summarize(p, &parsed)
	return p, nil
}

// Apply runs init and then applies the saved plan in dir, returning
// terraform's apply output, also when the apply fails part way. If the state
// changed since the plan was made the error matches ErrStalePlan.
//
// Callers should pass a context that is not cancelled on shutdown or client
// disconnect (context.WithoutCancel, or one with a generous deadline only):
// cancelling interrupts terraform mid-apply, which can leave real
// infrastructure half changed and the state lock held.
func (e *Exec) Apply(ctx context.Context, dir string, be Backend, planFile string) (string, error) {
	if planFile == "" {
		return "", fmt.Errorf("terraform apply in %s: plan file path is empty", dir)
	}
	abs, err := planPath(dir, planFile)
	if err != nil {
		return "", fmt.Errorf("terraform apply in %s: %w", dir, err)
	}
	if _, err := e.checkedVersion(ctx); err != nil {
		return "", err
	}
	if err := e.init(ctx, dir, be); err != nil {
		return "", err
	}
	out, err := e.direct(ctx, dir, "apply", nil, "apply", "-no-color", "-input=false", "-auto-approve", abs)
	return strings.TrimSpace(string(out)), err
}

// ForceUnlock runs init and then removes the state lock lockID. For the GCS
// backend the lock ID is the generation of the lock object (LockObject).
//
// terraform can only unlock a state it can load: if the state object was
// never written (a run died during its very first init), init fails on the
// lock and the lock object has to be deleted from the bucket instead.
func (e *Exec) ForceUnlock(ctx context.Context, dir string, be Backend, lockID string) error {
	if lockID == "" || strings.HasPrefix(lockID, "-") {
		return fmt.Errorf("terraform force-unlock in %s: invalid lock ID %q", dir, lockID)
	}
	if err := e.init(ctx, dir, be); err != nil {
		return err
	}
	return e.run(ctx, dir, "force-unlock", func(tf *tfexec.Terraform) error {
		return tf.ForceUnlock(ctx, lockID)
	})
}

// StateObject is the GCS object holding the default workspace's state for a
// backend prefix, as the gcs backend names it.
func StateObject(prefix string) string {
	return path.Join(strings.TrimLeft(prefix, "/"), "default.tfstate")
}

// LockObject is the GCS object that exists while the default workspace's
// state is locked; its generation is the lock ID.
func LockObject(prefix string) string {
	return path.Join(strings.TrimLeft(prefix, "/"), "default.tflock")
}

// planPath resolves a plan file relative to dir, as terraform would, into an
// absolute path that can never be mistaken for a flag.
func planPath(dir, planFile string) (string, error) {
	if !filepath.IsAbs(planFile) {
		planFile = filepath.Join(dir, planFile)
	}
	abs, err := filepath.Abs(planFile)
	if err != nil {
		return "", fmt.Errorf("plan file %s: %w", planFile, err)
	}
	return abs, nil
}

func (e *Exec) init(ctx context.Context, dir string, be Backend) error {
	if be.Bucket == "" {
		return fmt.Errorf("terraform init in %s: backend bucket is empty", dir)
	}
	args := []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false", "-reconfigure",
		"-backend-config=bucket=" + be.Bucket}
	if be.Prefix != "" {
		args = append(args, "-backend-config=prefix="+be.Prefix)
	}
	_, err := e.direct(ctx, dir, "init", nil, args...)
	return err
}

// run executes one terraform command in dir with a fresh tfexec handle, so
// output buffers are never shared between commands or goroutines.
func (e *Exec) run(ctx context.Context, dir, name string, fn func(*tfexec.Terraform) error) error {
	tf, err := e.terraform(dir)
	if err != nil {
		return &Error{Command: name, Dir: dir, Err: err}
	}
	var stderr bytes.Buffer
	tf.SetStderr(&stderr)
	if w := e.watched(name); w != nil {
		tf.SetStdout(w)
		tf.SetStderr(io.MultiWriter(&stderr, w))
	}
	start := time.Now()
	err = fn(tf)
	elapsed := time.Since(start)
	e.exited(name, err, elapsed)
	if err != nil {
		ce := &Error{Command: name, Dir: dir, Stderr: trimDiagnostics(stderr.String(), stderrMax), Err: err}
		if name == "apply" && isStale(stderr.String()) {
			ce.kind = ErrStalePlan
		}
		e.logger.LogAttrs(ctx, slog.LevelWarn, "terraform command failed",
			slog.String("command", name), slog.String("dir", dir),
			slog.Duration("duration", elapsed), slog.String("error", firstLine(err.Error())))
		return ce
	}
	e.logger.LogAttrs(ctx, slog.LevelDebug, "terraform command",
		slog.String("command", name), slog.String("dir", dir), slog.Duration("duration", elapsed))
	return nil
}

func (e *Exec) terraform(dir string) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(dir, e.bin)
	if err != nil {
		return nil, err
	}
	// SetEnv keeps the map, and tfexec only reads it, but a copy guards
	// against any future in-place edits racing across concurrent runs.
	if err := tf.SetEnv(maps.Clone(e.env)); err != nil {
		return nil, err
	}
	if err := tf.SetWaitDelay(waitDelay); err != nil {
		return nil, err
	}
	if e.userAgent != "" {
		if err := tf.SetAppendUserAgent(e.userAgent); err != nil {
			return nil, err
		}
	}
	// tfexec ignores the level settings without a log path, and setting a
	// level costs an extra `terraform version` call, so skip it entirely.
	if e.logPath != "" {
		for _, set := range []struct {
			v string
			f func(string) error
		}{{e.log, tf.SetLog}, {e.logCore, tf.SetLogCore}, {e.logProv, tf.SetLogProvider}} {
			if set.v == "" {
				continue
			}
			if err := set.f(set.v); err != nil {
				return nil, err
			}
		}
		if err := tf.SetLogPath(e.logPath); err != nil {
			return nil, err
		}
	}
	return tf, nil
}

// summarize fills the counts and change list the way terraform's own
// "Plan: ..." line counts them.
func summarize(p *Plan, plan *tfjson.Plan) {
	if plan == nil {
		return
	}
	p.Summary = summaryOf(plan)
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		acts := rc.Change.Actions
		if rc.Change.Importing != nil {
			p.Import++
		}
		if rc.Mode == tfjson.DataResourceMode || acts.NoOp() || acts.Read() {
			continue
		}
		switch {
		case acts.Create():
			p.Add++
		case acts.Update():
			p.Change++
		case acts.Delete():
			p.Destroy++
		case acts.Replace():
			p.Add++
			p.Destroy++
		}
		names := make([]string, len(acts))
		for i, a := range acts {
			names[i] = string(a)
		}
		addr := rc.Address
		if rc.DeposedKey != "" {
			addr += " (deposed object " + rc.DeposedKey + ")"
		}
		p.Changes = append(p.Changes, ResourceChange{Address: addr, Actions: names})
	}
}

// CLIConfig is the terraform CLI configuration tfpr runs with. An explicit
// provider_installation turns off terraform's implied plugin directories,
// among them terraform.d/plugins in the working directory: without it a
// PR could ship a "provider" binary that runs during plan.
const CLIConfig = `# Written by tfpr. Providers come only from their registries.
disable_checkpoint = true
provider_installation {
  direct {}
}
`

// watched returns where command name's output goes, or nil: commands that
// print for people are watched; show -json's data is not, nor the version
// tfpr asks for itself.
func (e *Exec) watched(name string) io.Writer {
	if e.output == nil || strings.HasPrefix(name, "show") || name == "version" {
		return nil
	}
	return e.output
}

// exited reports command name's end to OnExit; the version check is
// tfpr's own bookkeeping, not a run's command.
func (e *Exec) exited(name string, err error, took time.Duration) {
	if e.onExit != nil && name != "version" {
		e.onExit(name, ExitCode(err), took)
	}
}
