// Package config holds tfpr's settings: one typed struct, every field a flag
// with a TFPR_* environment twin. Flags win over the environment so a
// one-off invocation can override a deployment's defaults.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/executor"
)

// Config is the whole of tfpr's configuration.
type Config struct {
	Addr                string
	AppID               int64
	PrivateKeyFile      string
	WebhookSecret       string
	WebhookBodyBudget   int64 // bytes of not yet verified webhook bodies held at once
	APIURL              string
	StateBucket         string
	PlanBucket          string
	PlanKeyFile         string
	DataDir             string
	CheckoutDir         string
	PolicyDir           string
	PolicyParamsFile    string
	LintTimeout         time.Duration
	TerraformBin        string
	Parallelism         int
	ResyncInterval      time.Duration
	ShutdownGrace       time.Duration
	RepoAllowlist       []string
	AllowForkPRs        bool
	ApproverTeams       []string
	ApproverUsers       []string
	ApplyOnDrift        string
	ImpersonateTemplate string
	PlanImpersonate     string
	PlatformProject     string
	TerraformEnv        []string
	LogLevel            string

	// InsecureSharedIdentity lets every project's terraform run as tfpr's
	// own identity when no impersonation template is set.
	InsecureSharedIdentity bool
	StatePrefixTemplate    string
	MaxProjectsPerPR       int

	// ReadyInterval is how often the readiness checks run in the background.
	ReadyInterval time.Duration
	// PublicURL is where people reach tfpr's runs page; check runs and
	// comments link there. Empty: no links.
	PublicURL string
	// RunsPageAuthFile holds "user:password" for basic auth on the runs
	// page; empty leaves access to a proxy in front (OIDC).
	RunsPageAuthFile string

	// Where terraform runs (see runs.go).
	Executor       executor.Kind
	InternalAddr   string
	InternalURL    string
	SandboxBinds   []executor.Bind
	WorkerBin      string
	RunBudget      time.Duration
	IAMCredentials string

	// The kubernetes executor's Jobs (see runs.go).
	RunNamespace          string
	RunImage              string
	RunServiceAccount     string
	RunPlanServiceAccount string
	RunPodTemplateFile    string
	RunTTL                time.Duration
	Kubeconfig            string

	// Scheduled drift checks (see drift.go); DriftInterval 0 is off.
	DriftInterval    time.Duration
	DriftParallelism int
}

// field describes one setting once, so the flag, its env twin and the help
// text can never drift apart.
type field struct {
	name, env, usage string
	def              string
	set              func(string) error
}

// argNames are the value names -h shows for each flag.
var argNames = map[string]string{
	"addr": "HOST:PORT", "github-app-id": "ID", "github-private-key-file": "FILE", "github-webhook-secret": "SECRET",
	"webhook-body-budget": "SIZE", "github-api-url": "URL", "state-bucket": "BUCKET", "plan-bucket": "BUCKET",
	"plan-encryption-key-file": "FILE", "data-dir": "DIR", "checkout-dir": "DIR", "policy-dir": "DIR", "policy-params-file": "FILE",
	"lint-timeout": "DURATION", "terraform-bin": "PATH", "parallelism": "N", "resync-interval": "DURATION",
	"shutdown-grace": "DURATION", "repo-allowlist": "OWNER/NAME,...", "allow-fork-prs": "BOOL",
	"approver-teams": "ORG/SLUG,...", "approver-users": "LOGIN,...", "apply-on-drift": "apply|wait",
	"impersonate-template": "TEMPLATE", "plan-impersonate-template": "TEMPLATE", "platform-project": "PROJECT",
	"insecure-shared-identity": "BOOL", "state-prefix-template": "TEMPLATE", "max-projects-per-pr": "N",
	"terraform-env": "NAME,...", "log-level": "LEVEL", "executor": "local|kubernetes|unsandboxed",
	"internal-addr": "HOST:PORT", "internal-url": "URL", "sandbox-bind": "PATH[:rw],...", "worker-bin": "PATH",
	"run-budget": "DURATION", "iam-credentials-endpoint": "URL",
	"run-namespace": "NAMESPACE", "run-image": "IMAGE", "run-service-account-template": "TEMPLATE",
	"run-plan-service-account-template": "TEMPLATE", "run-pod-template-file": "FILE", "run-ttl": "DURATION",
	"kubeconfig":     "FILE",
	"ready-interval": "DURATION", "public-url": "URL", "runs-page-basic-auth-file": "FILE",
	"drift-interval": "DURATION", "drift-parallelism": "N",
}

func (c *Config) fields() []field {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	list := func(p *[]string) func(string) error {
		return func(v string) error { *p = splitList(v); return nil }
	}
	return append([]field{
		{"addr", "TFPR_ADDR", "listen address", ":8080", str(&c.Addr)},
		{"github-app-id", "TFPR_GITHUB_APP_ID", "GitHub App id (required)", "", func(v string) error {
			if v == "" {
				c.AppID = 0
				return nil
			}
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("not a positive integer: %q", v)
			}
			c.AppID = id
			return nil
		}},
		{"github-private-key-file", "TFPR_GITHUB_PRIVATE_KEY_FILE", "GitHub App private key, PEM (required)", "", str(&c.PrivateKeyFile)},
		{"github-webhook-secret", "TFPR_GITHUB_WEBHOOK_SECRET", "webhook secret (required; prefer the environment to the flag)", "", str(&c.WebhookSecret)},
		{"webhook-body-budget", "TFPR_WEBHOOK_BODY_BUDGET", "bytes of webhook bodies held before their signature is checked, all senders together (suffix KiB, MiB or GiB); over it a delivery gets 503", "64MiB", byteSize(&c.WebhookBodyBudget)},
		{"github-api-url", "TFPR_GITHUB_API_URL", "GitHub REST base URL (https://HOST/api/v3/ for GitHub Enterprise Server)", "https://api.github.com/", str(&c.APIURL)},
		{"state-bucket", "TFPR_STATE_BUCKET", "GCS bucket holding Terraform state (required for plan/apply)", "", str(&c.StateBucket)},
		{"plan-bucket", "TFPR_PLAN_BUCKET", "GCS bucket for saved plan files (default: the data dir)", "", str(&c.PlanBucket)},
		{"plan-encryption-key-file", "TFPR_PLAN_ENCRYPTION_KEY_FILE", "32-byte AES-256 key (raw or base64) encrypting plan files in TFPR_PLAN_BUCKET, on top of the bucket's own encryption", "", str(&c.PlanKeyFile)},
		{"data-dir", "TFPR_DATA_DIR", "clones, plan files and the embedded store", "./.tfpr", str(&c.DataDir)},
		{"checkout-dir", "TFPR_CHECKOUT_DIR", "directory for the short-lived checkouts runs lint and bundle from, e.g. a tmpfs (default: the data dir)", "", str(&c.CheckoutDir)},
		{"policy-dir", "TFPR_POLICY_DIR", "directory of Rego policies (default: the embedded policies/)", "", str(&c.PolicyDir)},
		{"policy-params-file", "TFPR_POLICY_PARAMS_FILE", "JSON object overriding the policies' data.tfpr.params (allowlists, suppressible_rules, max_destroy, ...)", "", str(&c.PolicyParamsFile)},
		{"lint-timeout", "TFPR_LINT_TIMEOUT", "time budget to lint one project; past it the project gets a deny finding", "2m", duration(&c.LintTimeout)},
		{"terraform-bin", "TFPR_TERRAFORM_BIN", "terraform or OpenTofu executable", "terraform", str(&c.TerraformBin)},
		{"parallelism", "TFPR_PARALLELISM", "terraform runs at once (default: 2 x CPU cores)", strconv.Itoa(2 * runtime.NumCPU()), func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("not a positive integer: %q", v)
			}
			c.Parallelism = n
			return nil
		}},
		{"resync-interval", "TFPR_RESYNC_INTERVAL", "how often open PRs and the default branch are reconciled", "3m", duration(&c.ResyncInterval)},
		{"shutdown-grace", "TFPR_SHUTDOWN_GRACE", "how long SIGTERM waits for running applies", "30m", duration(&c.ShutdownGrace)},
		{"repo-allowlist", "TFPR_REPO_ALLOWLIST", "comma-separated owner/name globs tfpr acts on (empty: all the App is installed on)", "", list(&c.RepoAllowlist)},
		{"allow-fork-prs", "TFPR_ALLOW_FORK_PRS", "run terraform for PRs from forks (lint always runs)", "false", boolean(&c.AllowForkPRs)},
		{"approver-teams", "TFPR_APPROVER_TEAMS", "comma-separated org/team slugs allowed to tfpr approve", "", list(&c.ApproverTeams)},
		{"approver-users", "TFPR_APPROVER_USERS", "comma-separated logins allowed to tfpr approve", "", list(&c.ApproverUsers)},
		{"apply-on-drift", "TFPR_APPLY_ON_DRIFT", "when the merge re-plan differs from the reviewed plan: apply or wait", "apply", func(v string) error {
			if v != "apply" && v != "wait" {
				return fmt.Errorf("must be apply or wait, got %q", v)
			}
			c.ApplyOnDrift = v
			return nil
		}},
		{"impersonate-template", "TFPR_IMPERSONATE_TEMPLATE", "service account each project's terraform runs as; {owner} {repo} {service} {env} {platform_project} are replaced (required unless TFPR_INSECURE_SHARED_IDENTITY)", "", str(&c.ImpersonateTemplate)},
		{"plan-impersonate-template", "TFPR_PLAN_IMPERSONATE_TEMPLATE", "read-only service account for plans, same placeholders (empty: same as apply)", "", str(&c.PlanImpersonate)},
		{"platform-project", "TFPR_PLATFORM_PROJECT", "GCP project holding the per-service terraform service accounts", "", str(&c.PlatformProject)},
		{"insecure-shared-identity", "TFPR_INSECURE_SHARED_IDENTITY", "run every project's terraform as tfpr's own identity when TFPR_IMPERSONATE_TEMPLATE is empty (any team can then act with every team's rights)", "false", boolean(&c.InsecureSharedIdentity)},
		{"state-prefix-template", "TFPR_STATE_PREFIX_TEMPLATE", "GCS state prefix of a project; {owner} {repo} {dir} are replaced", "{owner}/{repo}/{dir}", str(&c.StatePrefixTemplate)},
		{"max-projects-per-pr", "TFPR_MAX_PROJECTS_PER_PR", "projects checked and planned for one PR push; the rest are listed in the comment, not run", "200", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("not a positive integer: %q", v)
			}
			c.MaxProjectsPerPR = n
			return nil
		}},
		{"terraform-env", "TFPR_TERRAFORM_ENV", "comma-separated extra environment variable names passed through to terraform", "", list(&c.TerraformEnv)},
		{"log-level", "TFPR_LOG_LEVEL", "debug, info, warn or error", "info", str(&c.LogLevel)},
		{"ready-interval", "TFPR_READY_INTERVAL", "how often the /readyz checks (store, policies, GitHub App JWT, state bucket) run in the background", "15s", duration(&c.ReadyInterval)},
		{"public-url", "TFPR_PUBLIC_URL", "https URL of tfpr's runs page, linked from check runs and comments (empty: no links)", "", publicURL(&c.PublicURL)},
		{"runs-page-basic-auth-file", "TFPR_RUNS_PAGE_BASIC_AUTH_FILE", "file holding user:password for basic auth on the runs page (empty: leave access to a proxy in front)", "", str(&c.RunsPageAuthFile)},
	}, append(c.runFields(), c.driftFields()...)...)
}

// publicURL accepts an absolute http(s) URL and drops a trailing slash.
func publicURL(p *string) func(string) error {
	return func(v string) error {
		if v == "" {
			*p = ""
			return nil
		}
		u, err := url.Parse(v)
		// It is written into markdown links: no character that could end one.
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
			strings.ContainsAny(v, "()[]<>\"' \t\n") {
			return fmt.Errorf("not an absolute http(s) URL without query: %q", v)
		}
		*p = strings.TrimSuffix(v, "/")
		return nil
	}
}

func duration(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("not a positive duration: %q", v)
		}
		*p = d
		return nil
	}
}

// byteSize parses a count of bytes with an optional KiB, MiB or GiB suffix.
func byteSize(p *int64) func(string) error {
	return func(v string) error {
		num, unit := v, int64(1)
		for suffix, u := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
			if n, ok := strings.CutSuffix(v, suffix); ok {
				num, unit = n, u
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 || n > (1<<62)/unit {
			return fmt.Errorf("not a positive size in bytes (suffix KiB, MiB or GiB allowed): %q", v)
		}
		*p = n * unit
		return nil
	}
}

func boolean(p *bool) func(string) error {
	return func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*p = b
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Load parses args (without the program and subcommand names) over the
// environment looked up by getenv. It returns flag.ErrHelp for -h.
func Load(name string, args []string, getenv func(string) string) (*Config, *flag.FlagSet, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	for _, f := range c.fields() {
		def := f.def
		if v := getenv(f.env); v != "" {
			def = v
		}
		if err := f.set(def); err != nil {
			return nil, fs, fmt.Errorf("%s: %w", f.env, err)
		}
		fs.Func(f.name, fmt.Sprintf("%s (env %s, default %q)", f.usage, f.env, f.def), f.set)
	}
	fs.Usage = func() { printUsage(fs, name) }
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, fs, nil
}

// FromEnv is Load with the process environment.
func FromEnv(name string, args []string) (*Config, *flag.FlagSet, error) {
	return Load(name, args, os.Getenv)
}

// ValidateServer reports every missing or bad setting the server needs at
// once, so an operator fixes them in one round.
func (c *Config) ValidateServer() error {
	var errs []error
	if c.AppID == 0 {
		errs = append(errs, errors.New("TFPR_GITHUB_APP_ID is required"))
	}
	if c.PrivateKeyFile == "" {
		errs = append(errs, errors.New("TFPR_GITHUB_PRIVATE_KEY_FILE is required"))
	}
	if c.WebhookSecret == "" {
		errs = append(errs, errors.New("TFPR_GITHUB_WEBHOOK_SECRET is required: tfpr refuses to accept unsigned webhooks"))
	}
	if c.StateBucket == "" {
		errs = append(errs, errors.New("TFPR_STATE_BUCKET is required"))
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	errs = append(errs, c.checkSettings()...)
	for _, g := range c.RepoAllowlist {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("TFPR_REPO_ALLOWLIST: bad glob %q: %w", g, err))
		}
	}
	// Kubernetes run pods get their service's own account from their
	// service account template; nothing is impersonated.
	if c.ImpersonateTemplate == "" && !c.InsecureSharedIdentity && c.Executor != executor.Kubernetes {
		errs = append(errs, errors.New("TFPR_IMPERSONATE_TEMPLATE is required: without it terraform runs every project as tfpr's own identity, "+
			"which can act with every team's rights; set TFPR_INSECURE_SHARED_IDENTITY=true (--insecure-shared-identity) to accept that"))
	}
	errs = append(errs, c.validateTemplates()...)
	return errors.Join(errs...)
}

// RepoAllowed reports whether tfpr acts on the repository owner/name.
func (c *Config) RepoAllowed(fullName string) bool {
	if len(c.RepoAllowlist) == 0 {
		return true
	}
	for _, g := range c.RepoAllowlist {
		if ok, _ := path.Match(strings.ToLower(g), strings.ToLower(fullName)); ok {
			return true
		}
	}
	return false
}

// EnterpriseAPI reports whether the API URL points somewhere other than
// github.com, which go-github needs to know to build upload URLs.
func (c *Config) EnterpriseAPI() bool {
	return strings.TrimSuffix(c.APIURL, "/") != "https://api.github.com"
}
