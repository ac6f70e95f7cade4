// Package server assembles tfpr from its configuration: the store, the
// GitHub App, the policy engine, the runner and the HTTP endpoints
// (/webhook, /healthz, /readyz, /metrics, the runs page), and runs them
// until told to stop.
package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/gcs"
	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/health"
	"github.com/tfpr/tfpr/internal/logctx"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/planfile"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/runapi"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/runner"
	"github.com/tfpr/tfpr/internal/runspage"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/workspace"
	"github.com/tfpr/tfpr/policies"
	"github.com/tfpr/tfpr/webhook"
)

// Options are what the process provides beyond the configuration.
type Options struct {
	Log    *slog.Logger
	Getenv func(string) string // the environment terraform's allowlist reads; nil: os.Getenv
	// Kubernetes is the kubernetes executor's client; nil: built from
	// TFPR_KUBECONFIG or the pod's service account.
	Kubernetes kubernetes.Interface
}

// Server is a configured tfpr.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.SQLite
	runner  *runner.Runner
	handler http.Handler
	gcs     *gcs.Client
	lock    *os.File // flock on the data dir, held while the server lives
	metrics *metrics.Metrics
	health  *health.Checker
	logs    *runlog.Broadcaster // run logs, from the workers to the runs page
	page    *runspage.Page

	internal   net.Listener // the workers' endpoint (TFPR_INTERNAL_ADDR)
	dispatcher *runapi.Dispatcher
}

// lockDataDir takes an exclusive lock on the data dir. A second tfpr on the
// same dir would take the first one's running applies for crashed ones and
// re-run them; it is refused instead.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "tfpr.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another tfpr process (%v); each replica needs its own TFPR_DATA_DIR", dir, err)
	}
	return f, nil
}

// New builds a server from cfg. Anything wrong (missing settings, an
// unreadable key, invalid policies) fails here, before a port is opened.
func New(ctx context.Context, cfg *config.Config, o Options) (*Server, error) {
	if err := cfg.ValidateServer(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every component logs through this one logger: mask credentials in it
	// once, here, rather than at each call that might log terraform output.
	log = redact.Logger(log)
	// Lines logged with a run's context name its delivery, repository, PR,
	// project and run; those attributes pass the masker too.
	log = slog.New(logctx.NewHandler(log.Handler()))
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	key, err := os.ReadFile(cfg.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read GitHub App private key: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	app, err := githubapp.New(githubapp.Options{AppID: cfg.AppID, PrivateKey: key, APIURL: cfg.APIURL, TeamApprovers: len(cfg.ApproverTeams) > 0,
		Transport: m.GitHubTransport(nil)})
	if err != nil {
		return nil, err
	}
	if err := pinSoleRepo(ctx, cfg, app, log); err != nil {
		return nil, err
	}
	pol, err := LoadPolicies(ctx, cfg.PolicyDir, cfg.PolicyParamsFile, cfg.LintTimeout)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	var wsOpts []workspace.Option
	if cfg.CheckoutDir != "" {
		wsOpts = append(wsOpts, workspace.WithCheckoutDir(cfg.CheckoutDir))
	}
	ws, err := workspace.New(cfg.DataDir, log.With("component", "workspace"), wsOpts...)
	if err != nil {
		return nil, err
	}
	ws.Metrics = m
	env, err := runner.TerraformEnv(getenv, cfg.TerraformEnv)
	if err != nil {
		return nil, err
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(cfg.DataDir, "tfpr.db"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: st, lock: lock, metrics: m, logs: runlog.New(runlog.Limits{})}
	gcsClient, gcsErr := gcs.New(ctx, getenv)
	if gcsErr == nil {
		s.gcs = gcsClient
		s.gcs.Metrics = m
	} else {
		log.Warn("no GCS client: stale state locks after a crash will be reported, not released", "err", gcsErr)
	}
	plans, err := planStore(cfg, s.gcs)
	if err != nil {
		s.close()
		return nil, err
	}
	var locks runner.StateLocks // a nil *gcs.Client must stay a nil interface
	if s.gcs != nil {
		locks = s.gcs
	}
	o.Getenv = getenv
	tfExec, d, iln, err := workers(ctx, cfg, st, env, o, log, m, s.logs)
	if err != nil {
		s.close()
		return nil, err
	}
	s.internal, s.dispatcher = iln, d
	s.runner, err = runner.New(runner.Config{
		StateBucket: cfg.StateBucket, DataDir: cfg.DataDir, TerraformBin: cfg.TerraformBin,
		Parallelism: cfg.Parallelism, ResyncInterval: cfg.ResyncInterval, ShutdownGrace: cfg.ShutdownGrace,
		AllowForkPRs: cfg.AllowForkPRs, ApplyOnDrift: runner.DriftPolicy(cfg.ApplyOnDrift),
		ApproverUsers: cfg.ApproverUsers, ApproverTeams: cfg.ApproverTeams,
		Env:            env,
		Impersonate:    runner.Impersonator(cfg.ImpersonateTemplate, cfg.PlanImpersonate, cfg.PlatformProject),
		AllowRepo:      cfg.RepoAllowed,
		Secrets:        []string{cfg.WebhookSecret},
		PluginCacheDir: filepath.Join(cfg.DataDir, "plugin-cache"),

		StatePrefixTemplate: cfg.StatePrefixTemplate, MaxProjectsPerPR: cfg.MaxProjectsPerPR,
		DriftInterval: cfg.DriftInterval, DriftParallelism: cfg.DriftParallelism,
	}, runner.Deps{Store: st, GitHub: runner.GitHubApp(app), Workspace: ws, Policy: pol, Plans: plans, GCS: locks, Terraform: tfExec, Log: log.With("component", "runner"),
		Observe: &observe.Observer{Metrics: m, Logs: s.logs, PublicURL: cfg.PublicURL}})
	if err != nil {
		s.close()
		return nil, err
	}
	s.health = health.New(readinessChecks(cfg, st, pol, app, s.gcs, gcsErr), health.Options{
		Interval: cfg.ReadyInterval, Metrics: m, Log: log.With("component", "health"),
	})
	hook, err := webhook.New(webhook.Options{
		Secret: []byte(cfg.WebhookSecret), Record: s.runner, AllowRepo: cfg.RepoAllowed,
		BodyBudget: cfg.WebhookBodyBudget,
		Log:        log.With("component", "webhook"), Metrics: reg,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("configure webhook (check TFPR_WEBHOOK_BODY_BUDGET): %w", err)
	}
	var auth *runspage.Credentials
	if cfg.RunsPageAuthFile != "" {
		if auth, err = runspage.LoadCredentials(cfg.RunsPageAuthFile); err != nil {
			s.close()
			return nil, fmt.Errorf("TFPR_RUNS_PAGE_BASIC_AUTH_FILE: %w", err)
		}
	}
	runs, err := runspage.New(runspage.Options{Runs: st, Logs: s.logs, Auth: auth, Log: log.With("component", "runs-page")})
	if err != nil {
		s.close()
		return nil, err
	}
	s.page = runs
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", runs)
	mux.Handle("GET /runs/", runs)
	mux.Handle("GET /static/", runs)
	mux.Handle("POST /webhook", hook)
	mux.HandleFunc("GET /healthz", health.Alive)
	mux.HandleFunc("GET /readyz", s.health.Ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.handler = mux
	return s, nil
}

// LoadPolicies compiles the server's policies, never the PR's: the
// embedded defaults or TFPR_POLICY_DIR, with parameters from
// TFPR_POLICY_PARAMS_FILE over the defaults.
func LoadPolicies(ctx context.Context, dir, paramsFile string, lintTimeout time.Duration) (*policy.Engine, error) {
	var fsys fs.FS = policies.FS()
	if dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("policy dir: %w", err)
		}
		fsys = os.DirFS(dir)
	}
	var params map[string]any
	if paramsFile != "" {
		var err error
		if params, err = policy.ReadParams(paramsFile); err != nil {
			return nil, err
		}
	}
	pol, err := policy.New(ctx, fsys, policy.Options{Params: params, LintTimeout: lintTimeout})
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	return pol, nil
}

// planStore keeps plan files in TFPR_PLAN_BUCKET when set, so another
// replica can apply them; else under the data dir.
func planStore(cfg *config.Config, client *gcs.Client) (planfile.Store, error) {
	if cfg.PlanBucket == "" {
		if cfg.PlanKeyFile != "" {
			return nil, errors.New("TFPR_PLAN_ENCRYPTION_KEY_FILE needs TFPR_PLAN_BUCKET: local plan files are protected by file mode 0600")
		}
		return planfile.Local{Dir: filepath.Join(cfg.DataDir, "plans")}, nil
	}
	if client == nil {
		return nil, errors.New("TFPR_PLAN_BUCKET is set but no GCS client could be created (check GOOGLE_APPLICATION_CREDENTIALS)")
	}
	g := planfile.GCS{Client: client, Bucket: cfg.PlanBucket, Prefix: "plans"}
	if cfg.PlanKeyFile != "" {
		raw, err := os.ReadFile(cfg.PlanKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read TFPR_PLAN_ENCRYPTION_KEY_FILE: %w", err)
		}
		key := bytes.TrimSpace(raw)
		if len(key) != 32 {
			dec, err := base64.StdEncoding.DecodeString(string(key))
			if err != nil || len(dec) != 32 {
				return nil, fmt.Errorf("TFPR_PLAN_ENCRYPTION_KEY_FILE %s: want 32 raw bytes or their base64, got %d bytes", cfg.PlanKeyFile, len(key))
			}
			key = dec
		}
		g.Key = key
	}
	return g, nil
}

// close releases the store, the GCS client and the data-dir lock.
func (s *Server) close() error {
	if s.internal != nil {
		s.internal.Close()
	}
	err := s.store.Close()
	s.lock.Close()
	return err
}

// Handler serves /webhook, /healthz, /readyz, /metrics and the runs page.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's store, for `tfpr audit` and tests.
func (s *Server) Store() store.Store { return s.store }

// jobsLeftWait bounds how long a stopping server with the kubernetes
// executor waits for its runner: long enough for cancelled plans to be
// queued again, never for a Job.
const jobsLeftWait = 3 * time.Second

// stopRunner stops the runner and waits for it. With the kubernetes
// executor running Jobs are left to the next server, which adopts them:
// the dispatcher stops waiting for them, so a rollout takes seconds, not
// the length of the longest apply. Locally run workers die with the pod,
// so there the runner's drain waits for them.
func (s *Server) stopRunner(stop context.CancelFunc, done <-chan error) error {
	if s.cfg.Executor != executor.Kubernetes {
		stop()
		return <-done
	}
	s.dispatcher.Detach()
	stop()
	select {
	case err := <-done:
		return err
	case <-time.After(jobsLeftWait):
		s.log.Info("stopping with run Jobs still active; the next server adopts them")
		return nil
	}
}

// Serve runs the runner and serves HTTP on ln until ctx ends, then stops
// taking deliveries, lets running applies finish and closes the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Headers come before anything can be verified: keep them short and
	// small (GitHub's are a few KiB). The webhook sets its own, shorter
	// deadline for the body; ReadTimeout is the bound for everything else.
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// Live log streams never go idle: end them, or Shutdown would wait
	// for them until its deadline.
	srv.RegisterOnShutdown(s.page.Close)
	runCtx, stopRunner := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunner()
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- s.runner.Start(runCtx) }()
	go s.health.Start(runCtx)
	go s.refreshGauges(runCtx)
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	isrv := internalServer(s.dispatcher.Handler())
	go isrv.Serve(s.internal)
	defer isrv.Close()
	s.log.Info("tfpr listening", "addr", ln.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-httpDone:
	case err = <-runnerDone:
		err = fmt.Errorf("runner stopped: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e := srv.Shutdown(shutdownCtx); e != nil && err == nil {
		err = e
	}
	if e := s.stopRunner(stopRunner, runnerDone); e != nil && !errors.Is(e, context.Canceled) && err == nil {
		err = e
	}
	if e := s.close(); e != nil && err == nil {
		err = e
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
