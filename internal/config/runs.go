package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/tfpr/tfpr/internal/executor"
)

// DefaultInternalAddr is where the internal endpoint listens unless told
// otherwise: loopback, and fixed, so a worker that outlives the server
// reaches its successor at the same address.
const DefaultInternalAddr = "127.0.0.1:8081"

// runFields are the settings of where and how terraform runs.
func (c *Config) runFields() []field {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	return []field{
		{"executor", "TFPR_EXECUTOR", "where terraform runs: local (a bubblewrap sandbox per run), kubernetes (a Job per run), or unsandboxed (a plain child process that sees everything tfpr sees; only when asked for by name)", "local", func(v string) error {
			k, err := executor.ParseKind(v)
			c.Executor = k
			return err
		}},
		{"internal-addr", "TFPR_INTERNAL_ADDR", "listen address of the internal endpoint workers fetch bundles from and post results to; never the webhook port", DefaultInternalAddr, func(v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("not host:port: %q", v)
			}
			c.InternalAddr = v
			return nil
		}},
		{"internal-url", "TFPR_INTERNAL_URL", "the internal endpoint's URL as workers reach it (default: http:// + TFPR_INTERNAL_ADDR)", "", func(v string) error {
			if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("not an http(s) URL: %q", v)
			}
			c.InternalURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"sandbox-bind", "TFPR_SANDBOX_BIND", "comma-separated absolute paths made visible in the local sandbox, read-only, or read-write with a :rw suffix (a provider mirror, CA bundles)", "", func(v string) error {
			b, err := executor.ParseBinds(v)
			c.SandboxBinds = b
			return err
		}},
		{"worker-bin", "TFPR_WORKER_BIN", "worker executable every run starts (tfpr-worker, or tfpr itself as `tfpr worker`); tfpr refuses to start when it is not an executable file (default: tfpr-worker beside this executable, else this executable)", "", str(&c.WorkerBin)},
		{"run-budget", "TFPR_RUN_BUDGET", "time budget of one terraform run (plan or apply); also bounds the lifetime of its minted token", "1h", duration(&c.RunBudget)},
		{"iam-credentials-endpoint", "TFPR_IAM_CREDENTIALS_ENDPOINT", "IAM Credentials API base URL, for minting each run's token", "https://iamcredentials.googleapis.com/", str(&c.IAMCredentials)},
		{"run-namespace", "TFPR_RUN_NAMESPACE", "Kubernetes namespace of run Jobs (kubernetes executor; required with it)", "", str(&c.RunNamespace)},
		{"run-image", "TFPR_RUN_IMAGE", "image of run Jobs: tfpr's own image, which carries terraform at TFPR_TERRAFORM_BIN (kubernetes executor; required with it)", "", str(&c.RunImage)},
		{"run-service-account-template", "TFPR_RUN_SERVICE_ACCOUNT_TEMPLATE", "Kubernetes service account an apply's Job runs as, bound by Workload Identity to the service's Google account; {service} {env} are replaced", "tf-{service}-{env}", str(&c.RunServiceAccount)},
		{"run-plan-service-account-template", "TFPR_RUN_PLAN_SERVICE_ACCOUNT_TEMPLATE", "Kubernetes service account a plan's Job runs as (the read-only account); {service} {env} are replaced", "tf-ro-{service}-{env}", str(&c.RunPlanServiceAccount)},
		{"run-pod-template-file", "TFPR_RUN_POD_TEMPLATE_FILE", "YAML file (a mounted ConfigMap) with the run pods' resources, nodeSelector, tolerations, priorityClassName and annotations", "", str(&c.RunPodTemplateFile)},
		{"run-ttl", "TFPR_RUN_TTL", "how long a finished run Job and its pod's log are kept (ttlSecondsAfterFinished)", "1h", duration(&c.RunTTL)},
		{"kubeconfig", "TFPR_KUBECONFIG", "kubeconfig file for the kubernetes executor (default: the in-cluster service account)", "", str(&c.Kubeconfig)},
	}
}

// checkKubernetes reports what the kubernetes executor lacks: its pods
// reach the server over the network, never over loopback.
func (c *Config) checkKubernetes() []error {
	if c.Executor != executor.Kubernetes {
		return nil
	}
	var errs []error
	if c.RunNamespace == "" {
		errs = append(errs, errors.New("TFPR_RUN_NAMESPACE is required with TFPR_EXECUTOR=kubernetes"))
	}
	if c.RunImage == "" {
		errs = append(errs, errors.New("TFPR_RUN_IMAGE is required with TFPR_EXECUTOR=kubernetes: tfpr's own image"))
	}
	if c.InternalURL == "" {
		errs = append(errs, errors.New("TFPR_INTERNAL_URL is required with TFPR_EXECUTOR=kubernetes: the address run pods reach the internal endpoint at (a Service in front of TFPR_INTERNAL_ADDR)"))
	} else if u, err := url.Parse(c.InternalURL); err == nil {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("TFPR_INTERNAL_URL %s is a loopback address, which run pods cannot reach", c.InternalURL))
		}
	}
	if h, _, err := net.SplitHostPort(c.InternalAddr); err == nil {
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("TFPR_INTERNAL_ADDR %s listens on loopback only, which run pods cannot reach (e.g. :8081)", c.InternalAddr))
		}
	}
	for _, t := range []struct{ env, v string }{{"TFPR_RUN_SERVICE_ACCOUNT_TEMPLATE", c.RunServiceAccount}, {"TFPR_RUN_PLAN_SERVICE_ACCOUNT_TEMPLATE", c.RunPlanServiceAccount}} {
		if err := executor.CheckServiceAccountTemplate(t.env, t.v); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := executor.ReadPodTemplate(c.RunPodTemplateFile); err != nil {
		errs = append(errs, fmt.Errorf("TFPR_RUN_POD_TEMPLATE_FILE: %w", err))
	}
	return errs
}
