// Package runapi is the server's side of `tfpr worker`: it records each
// worker run (with its token hashed) before starting it through an
// executor, serves the internal endpoint the worker talks to, waits for the
// result, and on restart adopts the runs a previous server started.
package runapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/iamcreds"
	"github.com/tfpr/tfpr/internal/logctx"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Records is the part of the store the dispatcher uses.
type Records interface {
	CreateWorkerRun(ctx context.Context, w store.WorkerRun) (int64, error)
	SetWorkerHandle(ctx context.Context, id int64, handle string) error
	GetWorkerRun(ctx context.Context, id int64) (store.WorkerRun, error)
	RecordWorkerResult(ctx context.Context, id int64, result string) (bool, error)
	CloseWorkerRun(ctx context.Context, id int64) error
	OpenWorkerRuns(ctx context.Context) ([]store.WorkerRun, error)
	WorkerRunsOf(ctx context.Context, runID int64) ([]store.WorkerRun, error)
}

// Minter mints a project account's access token (iamcreds.Minter).
type Minter interface {
	Mint(ctx context.Context, serviceAccount string, lifetime time.Duration) (iamcreds.Token, error)
}

// Options configures a Dispatcher.
type Options struct {
	Store    Records
	Executor executor.Executor
	// RunsDir holds each run's bundle and run directory.
	RunsDir string
	// URL is the internal endpoint's base URL as workers reach it.
	URL string
	// Env is terraform's base environment handed to every worker.
	Env map[string]string
	// Minter mints per-run tokens; nil when workers run as their
	// project's account already (or with tfpr's own, when the operator
	// chose a shared identity).
	Minter Minter
	// Mask redacts secrets from worker log lines before they are logged.
	Mask func(string) string
	Log  *slog.Logger
	// Metrics counts adopted and lost runs and terraform's exits (taken
	// from each result); nil counts nothing.
	Metrics *metrics.Metrics
	// Logs receives each worker's log stream under its tfpr run, for the
	// runs page; nil keeps it in the server log only.
	Logs runlog.Sink
	// Poll is how often a waiting run checks that its worker lives.
	Poll time.Duration
	// Terraform is the executable workers run, as the server identified
	// it at start (terraform.Identify); nil makes each worker ask it.
	Terraform *terraform.Binary
}

// Dispatcher runs terraform through workers.
type Dispatcher struct {
	store   Records
	exec    executor.Executor
	dir     string
	url     string
	env     map[string]string
	minter  Minter
	mask    func(string) string
	log     *slog.Logger
	poll    time.Duration
	metrics *metrics.Metrics
	logs    runlog.Sink
	tf      *terraform.Binary

	mu      sync.Mutex
	waiters map[int64]chan struct{}
	// detached is closed when the server stops without waiting for its
	// workers.
	detached   chan struct{}
	detachOnce sync.Once
	// attrs are the log attributes (delivery, repository, PR) of the runs
	// this process started, for the lines the endpoint logs about them.
	attrs map[int64][]slog.Attr
	// launched is when this process launched each of its runs' workers;
	// startup how long each took to fetch its bundle (the worker_start
	// phase, recorded when the run's result is taken).
	launched map[int64]time.Time
	startup  map[int64]time.Duration
}

// ErrLost is returned for a worker that died (or overran its budget and
// grace) without leaving a result.
var ErrLost = errors.New("the worker died without a result")

// New returns a Dispatcher.
func New(o Options) (*Dispatcher, error) {
	if o.Store == nil || o.Executor == nil || o.RunsDir == "" || o.URL == "" {
		return nil, errors.New("runapi: store, executor, runs dir and internal URL are all required")
	}
	if err := os.MkdirAll(o.RunsDir, 0o700); err != nil {
		return nil, fmt.Errorf("runapi: %w", err)
	}
	d := &Dispatcher{store: o.Store, exec: o.Executor, dir: o.RunsDir, url: o.URL, env: o.Env, minter: o.Minter,
		mask: o.Mask, log: o.Log, poll: o.Poll, metrics: o.Metrics, logs: o.Logs, tf: o.Terraform,
		waiters: map[int64]chan struct{}{}, attrs: map[int64][]slog.Attr{}, detached: make(chan struct{}),
		launched: map[int64]time.Time{}, startup: map[int64]time.Duration{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.mask == nil {
		d.mask = func(s string) string { return s }
	}
	if d.poll <= 0 {
		d.poll = 500 * time.Millisecond
	}
	return d, nil
}

// Request is one terraform run to perform.
type Request struct {
	// RunID is the tfpr run the worker run belongs to.
	RunID   int64
	Stage   runspec.Stage
	Project string
	// Root is the checkout; Paths (relative to it) are what the bundle
	// carries: the project, the local modules it calls, files they read.
	Root      string
	Paths     []string
	Bucket    string
	Prefix    string
	LockPlans bool
	Budget    time.Duration
	// Plan is the saved plan an apply applies.
	Plan []byte
	// ServiceAccount is the project's account to mint a token for; empty
	// mints none.
	ServiceAccount string
	// LockID is the state lock an unlock removes.
	LockID string
}

func (d *Dispatcher) bundlePath(id int64) string {
	return filepath.Join(d.dir, strconv.FormatInt(id, 10)+".bundle")
}

// RunDir is worker run id's run directory.
func (d *Dispatcher) RunDir(id int64) string {
	return filepath.Join(d.dir, strconv.FormatInt(id, 10))
}

// Run performs req on a worker and waits for its result. When ctx ends
// first the worker keeps going: the run stays open in the store for the
// next server to adopt.
func (d *Dispatcher) Run(ctx context.Context, req Request) (runspec.Result, error) {
	token, hash, err := newToken()
	if err != nil {
		return runspec.Result{}, err
	}
	id, err := d.store.CreateWorkerRun(ctx, store.WorkerRun{RunID: req.RunID, Stage: req.Stage.String(), Project: req.Project,
		TokenHash: hash, Deadline: time.Now().Add(req.Budget + runspec.Grace + time.Minute)})
	if err != nil {
		return runspec.Result{}, err
	}
	log := d.log.With("worker_run", id, "run", req.RunID, "project", req.Project, "stage", req.Stage.String())
	d.remember(ctx, id)
	h, err := d.start(ctx, id, token, req)
	if err != nil {
		d.close(context.WithoutCancel(ctx), id)
		return runspec.Result{}, fmt.Errorf("%s %s: %w", req.Stage, req.Project, err)
	}
	log.InfoContext(ctx, "worker run started", "executor", h.Kind.String(), "pid", h.PID, "job", h.Job)
	return d.wait(ctx, id, h, log)
}

func (d *Dispatcher) start(ctx context.Context, id int64, token string, req Request) (executor.Handle, error) {
	spec := runspec.Spec{RunID: id, Stage: req.Stage, Project: req.Project, Bucket: req.Bucket, Prefix: req.Prefix,
		LockPlans: req.LockPlans, Budget: req.Budget, LockID: req.LockID, Terraform: d.tf}
	if req.Stage == runspec.Apply {
		spec.PlanSHA256 = runspec.SHA256(req.Plan)
	}
	if req.ServiceAccount != "" && d.minter != nil {
		tok, err := d.minter.Mint(ctx, req.ServiceAccount, req.Budget+5*time.Minute)
		if err != nil {
			return executor.Handle{}, err
		}
		spec.AccessToken = tok.AccessToken
	}
	if err := d.writeBundle(ctx, id, spec, req); err != nil {
		return executor.Handle{}, err
	}
	d.mu.Lock()
	d.launched[id] = time.Now()
	d.mu.Unlock()
	h, err := d.exec.Start(ctx, executor.Launch{RunID: id, Token: token, ServerURL: d.url, RunDir: d.RunDir(id), Env: d.env,
		Stage: req.Stage.String(), Project: req.Project, Budget: req.Budget})
	if err != nil {
		return h, err
	}
	hj, _ := json.Marshal(h)
	if err := d.store.SetWorkerHandle(context.WithoutCancel(ctx), id, string(hj)); err != nil {
		return h, err
	}
	return h, nil
}

func (d *Dispatcher) writeBundle(ctx context.Context, id int64, spec runspec.Spec, req Request) error {
	defer observe.Time(ctx, metrics.PhaseBundle)()
	f, err := os.OpenFile(d.bundlePath(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	err = runspec.WriteBundle(f, spec, req.Root, req.Paths, req.Plan)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// started notes that worker run id fetched its bundle: it is up.
func (d *Dispatcher) started(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if at, ok := d.launched[id]; ok {
		d.startup[id] = time.Since(at)
		delete(d.launched, id)
	}
}

// recordPhases records the phases of worker run id under ctx's run: its
// start, then each terraform command the worker reported.
func (d *Dispatcher) recordPhases(ctx context.Context, id int64, exits []runspec.Exit) {
	d.mu.Lock()
	up, ok := d.startup[id]
	d.mu.Unlock()
	if ok {
		observe.Took(ctx, metrics.PhaseWorkerStart, up)
	}
	for _, e := range exits {
		if p, ok := metrics.PhaseOf(metrics.CommandOf(e.Command)); ok {
			observe.Took(ctx, p, e.Took)
		}
	}
}

// Detach makes every wait, now and later, stop watching its worker and
// return only when its ctx ends (an apply's never does): a server that
// exits while its workers run leaves each run open for the next server,
// with nothing recorded or reported by this one.
func (d *Dispatcher) Detach() {
	d.detachOnce.Do(func() { close(d.detached) })
}

// waiter returns the channel closed when run id's result is recorded.
func (d *Dispatcher) waiter(id int64) chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, ok := d.waiters[id]
	if !ok {
		ch = make(chan struct{})
		d.waiters[id] = ch
	}
	return ch
}

func (d *Dispatcher) notify(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.waiters[id]; ok {
		close(ch)
		delete(d.waiters, id)
	}
}

// wait returns run id's result once recorded. While waiting it checks the
// worker lives; a dead worker's result file (left in its run directory) is
// taken as if posted, and a dead worker without one is lost.
func (d *Dispatcher) wait(ctx context.Context, id int64, h executor.Handle, log *slog.Logger) (runspec.Result, error) {
	ch := d.waiter(id)
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		wr, err := d.store.GetWorkerRun(ctx, id)
		if err != nil {
			return runspec.Result{}, err
		}
		if wr.Result != "" {
			return d.finish(ctx, wr, log)
		}
		select {
		case <-ctx.Done():
			log.InfoContext(ctx, "stopped waiting; the worker keeps running and the next server adopts it")
			return runspec.Result{}, ctx.Err()
		case <-ch:
			ch = d.waiter(id)
			continue
		case <-d.detached:
			// Neither a result nor a failure: nothing is recorded or
			// reported for the run, which stays open in the store for the
			// next server. The caller waits until the process exits.
			log.Info("server stopping; the worker keeps running and the next server adopts it")
			<-ctx.Done()
			return runspec.Result{}, ctx.Err()
		case <-t.C:
		}
		alive, err := d.exec.Alive(ctx, h)
		if err != nil {
			log.WarnContext(ctx, "check worker", "err", err)
			continue
		}
		if alive && time.Now().Before(wr.Deadline) {
			continue
		}
		ok, err := d.takeResultFile(ctx, wr)
		if ok {
			continue
		}
		if err != nil {
			// A result file that is not the worker's own, or that the run
			// cannot have produced, never becomes a result: the run is lost.
			log.WarnContext(ctx, "result file refused", "err", err)
		}
		// The worker may have posted between the two reads above.
		if wr, err = d.store.GetWorkerRun(ctx, id); err == nil && wr.Result != "" {
			return d.finish(ctx, wr, log)
		}
		d.metrics.RunLost()
		why := d.whyEnded(ctx, h, alive)
		log.WarnContext(ctx, "worker lost", "alive", alive, "deadline", wr.Deadline, "reason", why)
		d.close(ctx, id)
		if why != "" {
			return runspec.Result{}, fmt.Errorf("worker run %d: %w: %s", id, ErrLost, why)
		}
		return runspec.Result{}, fmt.Errorf("worker run %d: %w", id, ErrLost)
	}
}

// takeResultFile records the result a worker left in its run directory.
func (d *Dispatcher) takeResultFile(ctx context.Context, wr store.WorkerRun) (bool, error) {
	data, err := runspec.ReadResultFile(d.RunDir(wr.ID), wr.TokenHash)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if status, msg := d.record(ctx, wr, data); status != 200 {
		return false, errors.New(msg)
	}
	return true, nil
}

func (d *Dispatcher) finish(ctx context.Context, wr store.WorkerRun, log *slog.Logger) (runspec.Result, error) {
	res, err := decodeResult([]byte(wr.Result))
	if err != nil {
		return res, fmt.Errorf("worker run %d: stored result: %w", wr.ID, err)
	}
	d.recordPhases(ctx, wr.ID, res.Exits)
	d.close(ctx, wr.ID)
	for _, e := range res.Exits {
		d.metrics.TerraformExit(metrics.CommandOf(e.Command), e.Code)
	}
	log.InfoContext(ctx, "worker run finished", "status", res.Status.String())
	return res, nil
}

// remember keeps the log attributes of ctx for worker run id.
func (d *Dispatcher) remember(ctx context.Context, id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attrs[id] = logctx.Attrs(ctx)
}

// logContext is ctx carrying the log attributes of worker run id's
// starter, so the endpoint's lines about the run name its delivery too.
func (d *Dispatcher) logContext(ctx context.Context, id int64) context.Context {
	d.mu.Lock()
	as := d.attrs[id]
	d.mu.Unlock()
	args := make([]any, len(as))
	for i, a := range as {
		args[i] = a
	}
	return logctx.With(ctx, args...)
}

// close marks the run acted on and removes its files.
func (d *Dispatcher) close(ctx context.Context, id int64) {
	d.mu.Lock()
	delete(d.attrs, id)
	delete(d.launched, id)
	delete(d.startup, id)
	d.mu.Unlock()
	if err := d.store.CloseWorkerRun(context.WithoutCancel(ctx), id); err != nil {
		d.log.Error("close worker run", "worker_run", id, "err", err)
	}
	os.Remove(d.bundlePath(id))
	os.RemoveAll(d.RunDir(id))
}

// Adoption is what a restarted server found of a run started before it.
type Adoption int

const (
	// Finished: the run's result is recorded (or left in its run
	// directory); nothing needs to wait.
	Finished Adoption = iota + 1
	// Alive: the worker is still running; Wait for it.
	Alive
	// Dead: the worker is gone without a result.
	Dead
)

// Inspect tells what became of worker run wr, counting it as adopted or
// lost. A dead run is closed.
func (d *Dispatcher) Inspect(ctx context.Context, wr store.WorkerRun) (Adoption, error) {
	log := d.log.With("worker_run", wr.ID, "run", wr.RunID, "project", wr.Project, "stage", wr.Stage)
	if wr.Result != "" {
		d.metrics.RunAdopted()
		log.Info("adopted a finished worker run")
		return Finished, nil
	}
	if ok, _ := d.takeResultFile(ctx, wr); ok {
		d.metrics.RunAdopted()
		log.Info("adopted a finished worker run from its run directory")
		return Finished, nil
	}
	var h executor.Handle
	alive := false
	switch f, ok := d.exec.(executor.Finder); {
	case wr.Handle != "":
		if err := json.Unmarshal([]byte(wr.Handle), &h); err != nil {
			return Dead, fmt.Errorf("worker run %d: stored handle: %w", wr.ID, err)
		}
		var err error
		if alive, err = d.exec.Alive(ctx, h); err != nil {
			return Dead, err
		}
	case ok:
		// The server died after starting the worker and before recording
		// its handle: look for it by the run id it was labelled with.
		var err error
		if h, alive, err = f.Find(ctx, wr.ID); err != nil {
			return Dead, err
		}
		if h.Kind != 0 {
			hj, _ := json.Marshal(h)
			if err := d.store.SetWorkerHandle(ctx, wr.ID, string(hj)); err != nil {
				return Dead, err
			}
		}
	}
	if alive {
		d.metrics.RunAdopted()
		log.Info("adopted a running worker", "pid", h.PID, "job", h.Job)
		return Alive, nil
	}
	d.metrics.RunLost()
	log.Warn("worker run found dead without a result", "reason", d.whyEnded(ctx, h, false))
	d.close(ctx, wr.ID)
	return Dead, nil
}

// whyEnded asks the executor why h's worker ended without a result.
func (d *Dispatcher) whyEnded(ctx context.Context, h executor.Handle, alive bool) string {
	if alive {
		return "it overran its budget and grace"
	}
	if x, ok := d.exec.(executor.Explainer); ok && h.Kind != 0 {
		return x.WhyEnded(ctx, h)
	}
	return ""
}

// Wait waits for the result of worker run wr, started by this server or
// an earlier one.
func (d *Dispatcher) Wait(ctx context.Context, wr store.WorkerRun) (runspec.Result, error) {
	log := d.log.With("worker_run", wr.ID, "run", wr.RunID, "project", wr.Project, "stage", wr.Stage)
	var h executor.Handle
	if wr.Result == "" && wr.Handle == "" {
		// Inspect may have found the worker by its labels since wr was read.
		var err error
		if wr, err = d.store.GetWorkerRun(ctx, wr.ID); err != nil {
			return runspec.Result{}, err
		}
	}
	if wr.Result == "" {
		if err := json.Unmarshal([]byte(wr.Handle), &h); err != nil {
			return runspec.Result{}, fmt.Errorf("worker run %d: stored handle: %w", wr.ID, err)
		}
	}
	return d.wait(ctx, wr.ID, h, log)
}

// Get returns worker run id.
func (d *Dispatcher) Get(ctx context.Context, id int64) (store.WorkerRun, error) {
	return d.store.GetWorkerRun(ctx, id)
}

// Open lists worker runs not yet acted on.
func (d *Dispatcher) Open(ctx context.Context) ([]store.WorkerRun, error) {
	return d.store.OpenWorkerRuns(ctx)
}

// Latest returns the newest worker run of tfpr run runID, or ok false.
func (d *Dispatcher) Latest(ctx context.Context, runID int64) (store.WorkerRun, bool, error) {
	ws, err := d.store.WorkerRunsOf(ctx, runID)
	if err != nil || len(ws) == 0 {
		return store.WorkerRun{}, false, err
	}
	return ws[len(ws)-1], true, nil
}
