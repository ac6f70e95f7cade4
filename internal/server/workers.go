package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/iamcreds"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/runapi"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/runner"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// serverIdentityEnv is tfpr's own Google identity. Workers never get it
// when each run has a token minted for its project's account.
var serverIdentityEnv = []string{"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_CONFIG"}

// workers builds the executor, the dispatcher and the internal endpoint's
// listener. With the local executor tfpr refuses to start when bubblewrap
// cannot sandbox runs, unless TFPR_EXECUTOR=unsandboxed says otherwise.
func workers(ctx context.Context, cfg *config.Config, st *store.SQLite, env map[string]string, o Options, log *slog.Logger,
	m *metrics.Metrics, logs runlog.Sink) (*runner.Workers, *runapi.Dispatcher, net.Listener, error) {
	getenv := o.Getenv
	bin, err := workerBin(cfg.WorkerBin, log)
	if err != nil {
		return nil, nil, nil, err
	}
	tf, err := exec.LookPath(cfg.TerraformBin)
	if err == nil {
		tf, err = filepath.Abs(tf)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("TFPR_TERRAFORM_BIN %s: %w", cfg.TerraformBin, err)
	}
	// A local worker runs this very file: asked once here, its version
	// travels in every run's spec and the worker skips its own
	// `terraform version`. A run pod's image may hold another terraform,
	// so a Job's worker asks its own.
	var known *terraform.Binary
	if cfg.Executor != executor.Kubernetes {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		// No credentials: asking a version needs none.
		b, err := terraform.Identify(vctx, terraform.Options{Bin: tf, Env: map[string]string{"PATH": env["PATH"], "HOME": env["HOME"]}, Log: log})
		cancel()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("TFPR_TERRAFORM_BIN %s: %w", cfg.TerraformBin, err)
		}
		log.Info("terraform", "path", b.Path, "version", b.Version)
		known = &b
	}
	var ex executor.Executor
	if cfg.Executor == executor.Kubernetes {
		// tfpr's image runs the server and every run's pod, so the worker
		// executable and terraform are at the same paths in both.
		ex, err = kubeExecutor(ctx, cfg, o.Kubernetes, bin, tf, log.With("component", "executor"))
	} else {
		ex, err = executor.NewLocal(ctx, executor.LocalOptions{Sandbox: cfg.Executor != executor.Unsandboxed, WorkerBin: bin,
			TerraformBin: tf, Binds: cfg.SandboxBinds, Log: log.With("component", "executor")})
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Executor == executor.Unsandboxed {
		log.Warn("TFPR_EXECUTOR=unsandboxed: terraform runs without a sandbox and can read everything tfpr's user can")
	}
	// Port 0 asks the kernel for a free port: two listeners, never one.
	if _, port, _ := net.SplitHostPort(cfg.InternalAddr); cfg.InternalAddr == cfg.Addr && port != "0" {
		return nil, nil, nil, fmt.Errorf("TFPR_INTERNAL_ADDR %s is the webhook address; workers need their own listener", cfg.InternalAddr)
	}
	wenv := maps.Clone(env)
	var minter runapi.Minter
	switch {
	case cfg.Executor == executor.Kubernetes:
		// Each pod runs as its service's own account (Workload Identity):
		// nothing is minted, and tfpr's own identity stays with tfpr.
		for _, k := range serverIdentityEnv {
			delete(wenv, k)
		}
	case cfg.ImpersonateTemplate != "":
		src, err := ownTokenSource(ctx, getenv)
		if err != nil {
			return nil, nil, nil, err
		}
		m, err := iamcreds.New(cfg.IAMCredentials, src, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		minter = m
		for _, k := range serverIdentityEnv {
			delete(wenv, k)
		}
	}
	ln, err := net.Listen("tcp", cfg.InternalAddr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("internal endpoint: listen on %s (TFPR_INTERNAL_ADDR): %w", cfg.InternalAddr, err)
	}
	url := cfg.InternalURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	d, err := runapi.New(runapi.Options{Store: st, Executor: ex, RunsDir: filepath.Join(cfg.DataDir, "runs"), URL: url, Env: wenv,
		Minter: minter, Mask: redact.String, Log: log.With("component", "runapi"), Metrics: m, Logs: logs, Terraform: known})
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	w := &runner.Workers{Dispatcher: d, Budget: cfg.RunBudget}
	if minter != nil {
		w.Impersonate = runner.Impersonator(cfg.ImpersonateTemplate, cfg.PlanImpersonate, cfg.PlatformProject)
	}
	return w, d, ln, nil
}

// workerBin is the executable every run starts (see executor.FindWorker).
// Falling back to tfpr itself keeps a lone `go build`/`go install` of tfpr
// working; the warning says what it costs and how to avoid it.
func workerBin(configured string, log *slog.Logger) (string, error) {
	self, err := os.Executable()
	if err != nil && configured == "" {
		return "", fmt.Errorf("find the tfpr executable for workers (set TFPR_WORKER_BIN): %w", err)
	}
	bin, src, err := executor.FindWorker(configured, self)
	if err != nil {
		return "", err
	}
	if src == executor.WorkerSelf {
		log.Warn("no "+executor.LeanWorkerName+" beside tfpr: runs start `tfpr worker`, which spends tens of milliseconds of CPU per run on packages a worker does not use; install "+executor.LeanWorkerName+" beside tfpr or set TFPR_WORKER_BIN",
			"looked_in", filepath.Dir(self))
	} else {
		log.Info("worker executable", "path", bin, "source", src.String())
		// Server and worker speak one protocol (the run spec, bundle and
		// result): a worker left from another build may not.
		if self != "" {
			if diff, err := executor.BuildMismatch(bin, self); err != nil {
				log.Warn("cannot tell whether the worker executable comes from tfpr's build", "err", err)
			} else if diff != "" {
				log.Warn("the worker executable comes from another build than tfpr; install the two together", "builds", diff)
			}
		}
	}
	return bin, nil
}

// kubeExecutor builds the kubernetes executor with client, or a client
// from TFPR_KUBECONFIG or the pod's own service account, and says which
// run Jobs an earlier server left running: their runs are adopted.
func kubeExecutor(ctx context.Context, cfg *config.Config, client kubernetes.Interface, bin, tf string, log *slog.Logger) (executor.Executor, error) {
	if client == nil {
		rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubernetes executor: client configuration (TFPR_KUBECONFIG, else in-cluster): %w", err)
		}
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("kubernetes executor: %w", err)
		}
	}
	pod, err := executor.ReadPodTemplate(cfg.RunPodTemplateFile)
	if err != nil {
		return nil, err
	}
	ex, err := executor.NewKube(executor.KubeOptions{Client: client, Namespace: cfg.RunNamespace, Image: cfg.RunImage,
		WorkerBin: bin, TerraformBin: tf, ServiceAccount: cfg.RunServiceAccount, PlanServiceAccount: cfg.RunPlanServiceAccount,
		Pod: pod, TTL: cfg.RunTTL, Log: log})
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	active, err := ex.Active(lctx)
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w (the server's Role needs list on jobs in %s)", err, cfg.RunNamespace)
	}
	for _, h := range active {
		log.Info("run Job of an earlier server still active; its run is adopted", "run", h.RunID, "job", h.Job, "namespace", cfg.RunNamespace)
	}
	return ex, nil
}

// ownTokenSource is tfpr's own identity for minting: an explicit access
// token, else Application Default Credentials, looked up at the first
// mint so a server without them starts and says so on the run.
func ownTokenSource(ctx context.Context, getenv func(string) string) (oauth2.TokenSource, error) {
	if t := getenv("GOOGLE_OAUTH_ACCESS_TOKEN"); t != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: t}), nil
	}
	return &adcSource{ctx: context.WithoutCancel(ctx)}, nil
}

type adcSource struct {
	ctx  context.Context
	once sync.Once
	src  oauth2.TokenSource
	err  error
}

func (a *adcSource) Token() (*oauth2.Token, error) {
	a.once.Do(func() {
		a.src, a.err = google.DefaultTokenSource(a.ctx, "https://www.googleapis.com/auth/cloud-platform")
	})
	if a.err != nil {
		return nil, fmt.Errorf("tfpr's own credentials, needed to mint each run's token: %w", a.err)
	}
	return a.src.Token()
}

// internalServer serves the internal endpoint; it stops after the runner,
// so applies finishing during shutdown still deliver their results.
func internalServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10, IdleTimeout: 2 * time.Minute}
}
