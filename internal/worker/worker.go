// Package worker is `tfpr worker`: the only thing that runs terraform. It
// fetches one run's spec and bundle from the server's internal endpoint,
// runs init/plan/show or init/apply through internal/terraform with only
// the run's own credentials, streams its log, and delivers the result with
// retries until a server takes it, so a server restart loses nothing. It
// also leaves the result in its run directory for the server to find.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Options configures one worker run.
type Options struct {
	// Server is the internal endpoint's base URL.
	Server string
	RunID  int64
	// Token is the run's bearer token.
	Token string
	// Dir is the run directory: the bundle is unpacked under it and the
	// result is left in it (runspec.ResultFile).
	Dir            string
	TerraformBin   string
	PluginCacheDir string
	// Env is terraform's base environment; TFPR_* names are dropped.
	Env map[string]string
	Log *slog.Logger
}

// Errors Run returns after it has done what it could.
var (
	// ErrTerraform: terraform failed; the result says how, and was
	// delivered.
	ErrTerraform = errors.New("terraform failed")
	// ErrUndelivered: no server took the result within the budget and
	// grace; it is still in the run directory.
	ErrUndelivered = errors.New("result not delivered")
)

// Run performs the run and returns nil when terraform succeeded and the
// result reached the server.
func Run(ctx context.Context, o Options) error {
	// A provider running under this worker shares its user: keep it from
	// reading the token out of /proc/<worker>/environ or memory.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return fmt.Errorf("worker: make the process non-dumpable: %w", errno)
	}
	logs := &logBuffer{max: 1 << 20}
	base := o.Log
	if base == nil {
		base = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	log := slog.New(teeHandler{base.Handler(), slog.NewTextHandler(logs, nil)}).With("run", o.RunID)
	// A lower priority only protects the server's latency; a host that
	// refuses it (a /proc mounted read-only) must not fail the run.
	if err := lowerPriority(ctx, func(err error) { log.Warn("the run's session kept its priority", "err", err) }); err != nil {
		log.Warn("running at normal priority", "err", err)
	}
	c := &client{base: strings.TrimRight(o.Server, "/"), runID: o.RunID, token: o.Token, http: &http.Client{}}

	// Until the spec says otherwise, allow the bundle fetch a generous
	// window: the server may be restarting right now.
	var u runspec.Unpacked
	err := retry(ctx, time.Now().Add(runspec.Grace), "fetch bundle", func(ctx context.Context) error {
		resp, err := c.do(ctx, "GET", "bundle", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		work := filepath.Join(o.Dir, "bundle")
		if err := os.RemoveAll(work); err != nil {
			return err
		}
		u, err = runspec.ReadBundle(resp.Body, work)
		if err != nil {
			return fmt.Errorf("%w: %w", errRefused, err)
		}
		return nil
	})
	if err != nil {
		log.Error("no bundle", "err", err)
		return fmt.Errorf("worker run %d: %w", o.RunID, err)
	}
	if u.Spec.RunID != o.RunID {
		return fmt.Errorf("worker run %d: the bundle is for run %d", o.RunID, u.Spec.RunID)
	}
	deadline := time.Now().Add(u.Spec.Budget + runspec.Grace)
	log.Info("run started", "stage", u.Spec.Stage.String(), "project", u.Spec.Project, "budget", u.Spec.Budget)

	shipCtx, stopShip := context.WithCancel(ctx)
	shipped := make(chan struct{})
	go func() { logs.ship(shipCtx, c, time.Second); close(shipped) }()

	res := execute(ctx, o, u, log, logs)
	log.Info("run finished", "status", res.Status.String())
	stopShip()
	<-shipped

	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("worker run %d: encode result: %w", o.RunID, err)
	}
	if file, err := runspec.SealResult(runspec.TokenHash(o.Token), body); err != nil {
		log.Error("seal result for the run directory", "err", err)
	} else if err := writeAtomic(filepath.Join(o.Dir, runspec.ResultFile), file); err != nil {
		log.Error("leave result in run directory", "err", err)
	}
	// Delivery outlives a signal that interrupted terraform: the server
	// must still learn how the run ended.
	err = retry(context.WithoutCancel(ctx), deadline, "deliver result", func(ctx context.Context) error {
		resp, err := c.do(ctx, "POST", "result", body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		log.Error("result not delivered", "err", err)
		return fmt.Errorf("worker run %d: %w: %w", o.RunID, ErrUndelivered, err)
	}
	if res.Status != runspec.Succeeded {
		return fmt.Errorf("worker run %d: %w: %s", o.RunID, ErrTerraform, firstLine(res.Error))
	}
	return nil
}

// execute runs terraform for the unpacked bundle within the spec's budget.
// Terraform's output joins the worker's log stream (the runs page shows
// it live); its exits go into the result.
func execute(ctx context.Context, o Options, u runspec.Unpacked, log *slog.Logger, output io.Writer) runspec.Result {
	res := runspec.Result{RunID: u.Spec.RunID, Stage: u.Spec.Stage}
	fail := func(err error) runspec.Result {
		res.Status, res.Error, res.Finished = runspec.Failed, err.Error(), time.Now()
		return res
	}
	// Commands run one after another: no lock needed.
	onExit := func(cmd string, code int, took time.Duration) {
		if len(res.Exits) < runspec.MaxExits {
			res.Exits = append(res.Exits, runspec.Exit{Command: cmd, Code: code, Took: took})
		}
	}
	tf, err := newTerraform(o, u, log, output, onExit)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, u.Spec.Budget)
	defer cancel()
	be := terraform.Backend{Bucket: u.Spec.Bucket, Prefix: u.Spec.Prefix}
	switch u.Spec.Stage {
	case runspec.Plan:
		planFile := filepath.Join(o.Dir, "plan.tfplan")
		p, err := tf.Plan(ctx, u.ProjectDir(), be, planFile)
		if err != nil {
			return fail(err)
		}
		file, err := os.ReadFile(p.File)
		if err != nil {
			return fail(fmt.Errorf("read the saved plan: %w", err))
		}
		if len(file) > runspec.MaxFileBytes {
			return fail(fmt.Errorf("the saved plan has %d bytes, over %d", len(file), runspec.MaxFileBytes))
		}
		pr := &runspec.PlanResult{HasChanges: p.HasChanges, Add: p.Add, Change: p.Change, Destroy: p.Destroy, Import: p.Import,
			Text: p.Text, JSON: p.JSON, File: file, SHA256: runspec.SHA256(file)}
		for _, c := range p.Changes {
			pr.Changes = append(pr.Changes, runspec.Change{Address: c.Address, Actions: c.Actions})
		}
		res.Plan = pr
	case runspec.Unlock:
		if err := tf.ForceUnlock(ctx, u.ProjectDir(), be, u.Spec.LockID); err != nil {
			return fail(err)
		}
	case runspec.Apply:
		out, err := tf.Apply(ctx, u.ProjectDir(), be, u.PlanFile)
		res.Output = out
		if errors.Is(err, terraform.ErrStalePlan) {
			res.Status, res.Error, res.Finished = runspec.StalePlan, err.Error(), time.Now()
			return res
		}
		if err != nil {
			return fail(err)
		}
	}
	res.Status, res.Finished = runspec.Succeeded, time.Now()
	return res
}

// newTerraform builds terraform's environment: the base allowlist without
// any TFPR_* name, the run's own token, and a CLI config that loads
// providers only from their registries.
func newTerraform(o Options, u runspec.Unpacked, log *slog.Logger, output io.Writer, onExit func(string, int, time.Duration)) (*terraform.Exec, error) {
	env := map[string]string{}
	for k, v := range o.Env {
		if !strings.HasPrefix(strings.ToUpper(k), "TFPR_") {
			env[k] = v
		}
	}
	if u.Spec.AccessToken != "" {
		env["GOOGLE_OAUTH_ACCESS_TOKEN"] = u.Spec.AccessToken
	}
	cli := filepath.Join(o.Dir, "terraform.rc")
	if err := os.WriteFile(cli, []byte(terraform.CLIConfig), 0o600); err != nil {
		return nil, fmt.Errorf("write terraform CLI config: %w", err)
	}
	env["TF_CLI_CONFIG_FILE"] = cli
	var known []terraform.Binary
	if u.Spec.Terraform != nil {
		known = append(known, *u.Spec.Terraform)
	}
	return terraform.New(terraform.Options{Bin: o.TerraformBin, Env: env, PluginCacheDir: o.PluginCacheDir, Known: known,
		LockPlans: u.Spec.LockPlans || u.Spec.Stage == runspec.Apply, Log: log, Output: output, OnExit: onExit})
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// teeHandler sends each record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if t.a.Enabled(ctx, r.Level) {
		err = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		err = errors.Join(err, t.b.Handle(ctx, r))
	}
	return err
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{t.a.WithGroup(n), t.b.WithGroup(n)}
}
