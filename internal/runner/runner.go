package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/logctx"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/planfile"
	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/store"
)

// Deps are the parts the runner drives.
type Deps struct {
	Store     store.Store
	GitHub    GitHub
	Workspace Workspace
	Policy    Linter
	Plans     planfile.Store // nil: a directory under DataDir
	GCS       StateLocks     // optional: reads state locks left by a crash
	// Terraform runs terraform; nil: TerraformBin on this machine, with
	// the environment and identity Config gives.
	Terraform Executor
	Log       *slog.Logger
	// Observe records each run's metrics and runs-page log; nil records
	// nothing.
	Observe *observe.Observer
}

// What the Runner's Scanner remembers: every Terraform file of four trees
// the size of a 1,000-state monorepo (about 13 MB by its estimate), and
// never more than 32 MiB.
const (
	scanFiles = 20_000
	scanBytes = 32 << 20
)

// Runner executes jobs and runs.
type Runner struct {
	cfg   Config
	store store.Store
	gh    GitHub
	ws    Workspace
	pol   Linter
	files planfile.Store
	gcs   StateLocks
	tf    Executor
	scan  *project.Scanner
	log   *slog.Logger
	obs   *observe.Observer

	wake    chan struct{}
	slots   chan struct{}  // terraform processes at once
	jobs    chan struct{}  // jobs expanded at once (each may hold a checkout)
	plans   sync.WaitGroup // plan jobs: may be abandoned on shutdown
	applies sync.WaitGroup // applies: always waited for
	started time.Time

	known sync.Map // repo full name -> store.Repo already remembered

	mu       sync.Mutex
	projects map[string]*sync.Mutex // repo/project: runs never overlap
	repos    map[string]*sync.Mutex // repo: merge expansion is serial
	applying int                    // applies started and not finished
	drifting map[string]bool        // drift checks running, by driftKey

	driftWake chan struct{}
}

// New checks the configuration and returns a Runner; Start runs it.
func New(cfg Config, d Deps) (*Runner, error) {
	if d.Store == nil || d.GitHub == nil || d.Workspace == nil || d.Policy == nil {
		return nil, errors.New("runner: store, GitHub, workspace and policy are required")
	}
	if cfg.StateBucket == "" {
		return nil, errors.New("runner: state bucket is required")
	}
	if cfg.Parallelism < 1 {
		cfg.Parallelism = 1
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 3 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.ApplyOnDrift == "" {
		cfg.ApplyOnDrift = DriftApply
	}
	if cfg.Impersonate == nil {
		cfg.Impersonate = func(string, string, Mode) (string, error) { return "", nil }
	}
	if cfg.MaxProjectsPerPR <= 0 {
		cfg.MaxProjectsPerPR = 200
	}
	if cfg.PlanTimeout <= 0 {
		cfg.PlanTimeout = 30 * time.Minute
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.DriftParallelism < 1 {
		cfg.DriftParallelism = 1
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	files := d.Plans
	if files == nil {
		files = planfile.Local{Dir: filepath.Join(cfg.DataDir, "plans")}
	}
	tf := d.Terraform
	if tf == nil {
		local, err := newLocalTerraform(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		tf = local
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "scratch"), 0o700); err != nil {
		return nil, fmt.Errorf("runner: create scratch dir: %w", err)
	}
	return &Runner{
		cfg: cfg, store: d.Store, gh: d.GitHub, ws: d.Workspace, pol: d.Policy, files: files, gcs: d.GCS, tf: tf, scan: project.NewScanner(scanFiles, scanBytes), log: log, obs: d.Observe,
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, cfg.Parallelism),
		jobs:     make(chan struct{}, cfg.Parallelism),
		projects: map[string]*sync.Mutex{},
		repos:    map[string]*sync.Mutex{},
		drifting: map[string]bool{},

		driftWake: make(chan struct{}, 1),
	}, nil
}

// scratchDir makes a private directory outside any checkout for one run's
// plan files: a PR cannot plant a symlink where terraform writes them.
func (r *Runner) scratchDir() (string, error) {
	dir, err := os.MkdirTemp(filepath.Join(r.cfg.DataDir, "scratch"), "run-")
	if err != nil {
		return "", fmt.Errorf("create scratch dir: %w", err)
	}
	return dir, nil
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runner) lockOf(m map[string]*sync.Mutex, key string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := m[key]
	if !ok {
		l = &sync.Mutex{}
		m[key] = l
	}
	return l
}

// slot takes one of the terraform slots, or fails when ctx ends first.
func (r *Runner) slot(ctx context.Context) (release func(), err error) {
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Start recovers what a previous process left, then runs the loop until
// ctx ends. On return, running applies have finished (bounded by
// ShutdownGrace) and unfinished plans are queued again.
func (r *Runner) Start(ctx context.Context) error {
	r.started = time.Now()
	if err := r.recover(ctx); err != nil {
		return err
	}
	resync := time.NewTicker(r.cfg.ResyncInterval)
	defer resync.Stop()
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	r.poke()
	if r.cfg.DriftInterval > 0 {
		r.plans.Add(1)
		go func() { defer r.plans.Done(); r.driftLoop(ctx) }()
	}
	for {
		select {
		case <-ctx.Done():
			return r.drain()
		case <-r.wake:
		case <-poll.C:
		case <-resync.C:
			// Off the loop: a slow GitHub must not delay applies.
			r.plans.Add(1)
			go func() { defer r.plans.Done(); r.resync(ctx) }()
		}
		r.schedule(ctx)
	}
}

func (r *Runner) schedule(ctx context.Context) {
	free := cap(r.jobs) - len(r.jobs)
	var jobs []store.Job
	if free > 0 {
		var err error
		if jobs, err = r.store.ClaimJobs(ctx, free); err != nil {
			r.logger(ctx).Error("claim jobs", "err", err)
		}
	}
	for _, j := range jobs {
		r.jobs <- struct{}{}
		r.plans.Add(1)
		go func(j store.Job) {
			defer func() { <-r.jobs; r.plans.Done() }()
			r.runJob(ctx, j)
		}(j)
	}
	next, err := r.store.NextApplies(ctx)
	if err != nil {
		r.logger(ctx).Error("list applies", "err", err)
		return
	}
	for _, run := range next {
		// Start no more applies than can run: a started apply is marked
		// running, and after a crash a running apply is re-planned rather
		// than applied from its reviewed plan.
		r.mu.Lock()
		wait := time.Until(run.NotBefore)
		full := r.applying >= r.cfg.Parallelism
		if wait <= 0 && !full {
			r.applying++
		}
		r.mu.Unlock()
		if full {
			break
		}
		if wait > 0 {
			continue
		}
		interrupted := run.Summary == interruptedMark
		if err := r.store.StartRun(ctx, run.ID); err != nil {
			r.mu.Lock()
			r.applying--
			r.mu.Unlock()
			r.logger(ctx).Error("start apply", "run", run.ID, "err", err)
			continue
		}
		r.applies.Add(1)
		go func(run store.Run) {
			defer r.applies.Done()
			defer r.poke() // the project's next apply may go now
			defer func() { r.mu.Lock(); r.applying--; r.mu.Unlock() }()
			// An apply is never cut short by shutdown: half-applied
			// infrastructure with a held lock is worse than a late exit.
			r.apply(context.WithoutCancel(ctx), run, interrupted)
		}(run)
	}
}

func (r *Runner) drain() error {
	done := make(chan struct{})
	go func() { r.applies.Wait(); r.plans.Wait(); close(done) }()
	grace := r.cfg.ShutdownGrace
	if grace <= 0 {
		grace = 30 * time.Minute
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
		return fmt.Errorf("shutdown: applies still running after %s", grace)
	}
}

func (r *Runner) runJob(ctx context.Context, j store.Job) {
	log := r.log.With("job", j.ID, "kind", j.Kind, "repo", j.Repo.FullName, "pr", j.PR, "trigger", j.Trigger)
	if j.Delivery != "" {
		log = log.With("delivery", j.Delivery)
	}
	ctx = withLogger(ctx, log)
	// Code below the runner (the worker dispatcher) logs with the context:
	// its lines name the delivery, repository and PR too.
	ctx = logctx.With(ctx, "delivery", j.Delivery, "job", j.ID, "repo", j.Repo.FullName, "pr", j.PR)
	ctx = r.obs.Job(ctx)
	defer observe.EndJob(ctx)
	var err error
	switch j.Kind {
	case store.JobPR:
		err = r.planPR(ctx, j)
	case store.JobMerge:
		err = r.expandMerge(ctx, j)
	case store.JobClose:
		err = r.closePR(ctx, j)
	case store.JobCommand:
		err = r.command(ctx, j)
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	status, text := store.StatusSucceeded, ""
	if err != nil {
		status, text = store.StatusFailed, err.Error()
		if ctx.Err() != nil {
			// Shutdown: leave it for the next process.
			status = store.StatusCancelled
		}
		log.Error("job failed", "err", err)
	}
	// The job's outcome must be recorded even while shutting down.
	if err := r.store.FinishJob(context.WithoutCancel(ctx), j.ID, status, text); err != nil {
		log.Error("record job outcome", "err", err)
	}
	r.poke()
}
