package runner

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/terraform"
)

// baseEnvNames are passed from tfpr's environment to terraform when set.
// Everything else (the App key path, the webhook secret, other TFPR_*
// settings, whatever the pod happens to carry) stays out of terraform and
// so out of provider code run on a PR's behalf.
var baseEnvNames = []string{
	"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
	"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT",
	"GOOGLE_CLOUD_UNIVERSE_DOMAIN", "CLOUDSDK_CONFIG",
}

// TerraformEnv builds terraform's base environment from getenv: the fixed
// allowlist plus extra names an operator opted in. TFPR_* names are
// refused: they hold tfpr's own credentials and settings.
func TerraformEnv(getenv func(string) string, extra []string) (map[string]string, error) {
	env := map[string]string{}
	for _, k := range append(append([]string(nil), baseEnvNames...), extra...) {
		if strings.HasPrefix(strings.ToUpper(k), "TFPR_") {
			return nil, fmt.Errorf("TFPR_TERRAFORM_ENV: %s is tfpr's own setting and is never passed to terraform", k)
		}
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	return env, nil
}

// localTerraform runs the terraform binary on this machine.
type localTerraform struct {
	bin, pluginCache, cliConfig string
	env                         map[string]string
	impersonate                 func(repo, project string, mode Mode) (string, error)
	log                         *slog.Logger
}

func newLocalTerraform(cfg Config, log *slog.Logger) (*localTerraform, error) {
	cli := filepath.Join(cfg.DataDir, "terraform.tfrc")
	if err := os.WriteFile(cli, []byte(cliConfig), 0o600); err != nil {
		return nil, fmt.Errorf("write terraform CLI config: %w", err)
	}
	return &localTerraform{bin: cfg.TerraformBin, pluginCache: cfg.PluginCacheDir, cliConfig: cli, env: cfg.Env,
		impersonate: cfg.Impersonate, log: log}, nil
}

// Terraform returns an Exec whose environment is the base allowlist plus
// the project's own service account, for both the google provider and the
// gcs backend, so one team's run cannot act with another team's rights.
// The account depends on the repository too: the same dir in another
// repository is another team's project.
// Applies lock the state; PR plans do not, so a read-only plan account
// works and a plan never blocks an apply (tfpr serialises runs itself).
func (l *localTerraform) Terraform(repo, project string, mode Mode, _ []string) (Terraform, error) {
	env := make(map[string]string, len(l.env)+3)
	for k, v := range l.env {
		env[k] = v
	}
	if _, ok := env["TF_CLI_CONFIG_FILE"]; !ok && l.cliConfig != "" {
		env["TF_CLI_CONFIG_FILE"] = l.cliConfig
	}
	sa, err := l.impersonate(repo, project, mode)
	if err != nil {
		return nil, err
	}
	if sa != "" {
		env["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"] = sa
		env["GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT"] = sa
	}
	return terraform.New(terraform.Options{Bin: l.bin, Env: env, PluginCacheDir: l.pluginCache, LockPlans: mode == ModeApply, Log: l.log})
}

// backend is where project p of repository repo keeps its state.
func (r *Runner) backend(repo, p string) terraform.Backend {
	return terraform.Backend{Bucket: r.cfg.StateBucket, Prefix: StatePrefix(r.cfg.StatePrefixTemplate, repo, p)}
}

// DefaultStatePrefix keeps each repository's states apart: two repositories
// may both hold microservices/beta/prod.
const DefaultStatePrefix = "{owner}/{repo}/{dir}"

// StatePrefix expands tmpl (DefaultStatePrefix when empty) for project dir
// of repository owner/name. Owner and name are lower-cased, as GitHub
// treats them case-insensitively, so one repository has one prefix however
// an event spells it.
func StatePrefix(tmpl, repo, dir string) string {
	if tmpl == "" {
		tmpl = DefaultStatePrefix
	}
	owner, name := splitRepo(repo)
	return strings.NewReplacer("{owner}", owner, "{repo}", name, "{dir}", dir).Replace(tmpl)
}

func splitRepo(fullName string) (owner, name string) {
	owner, name, _ = strings.Cut(strings.ToLower(fullName), "/")
	return owner, name
}

// cliConfig is the terraform CLI configuration tfpr runs with. An explicit
// provider_installation turns off terraform's implied plugin directories,
// among them terraform.d/plugins in the working directory: without it a
// PR could ship a "provider" binary that runs during plan.
const cliConfig = `# Written by tfpr. Providers come only from their registries.
disable_checkpoint = true
provider_installation {
  direct {}
}
`

// Impersonator expands the service-account template for a project laid out
// as microservices/<service>/<env> in repository owner/repo. A project
// outside that layout is refused when a template is set: guessing its
// service from the path would let one team place a directory that runs
// with another team's rights.
func Impersonator(applyTmpl, planTmpl, platformProject string) func(repo, dir string, mode Mode) (string, error) {
	return func(repo, dir string, mode Mode) (string, error) {
		tmpl := applyTmpl
		if mode == ModePlan && planTmpl != "" {
			tmpl = planTmpl
		}
		if tmpl == "" {
			return "", nil
		}
		service, env, ok := project.ServiceEnv(dir)
		if !ok {
			return "", fmt.Errorf("project %s is not microservices/<service>/<env>, so tfpr cannot tell whose service account runs it; terraform was not run", dir)
		}
		owner, name := splitRepo(repo)
		return strings.NewReplacer("{owner}", owner, "{repo}", name, "{service}", service, "{env}", env,
			"{platform_project}", platformProject).Replace(tmpl), nil
	}
}
