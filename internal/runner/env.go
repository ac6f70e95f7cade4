package runner

import (
	"fmt"
	"os"
	"strings"

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

// OSEnv is os.Getenv; named so callers read as configuration.
func OSEnv(k string) string { return os.Getenv(k) }

// terraform returns an Exec whose environment is the base allowlist plus
// the project's own service account, for both the google provider and the
// gcs backend, so one team's run cannot act with another team's rights.
func (r *Runner) terraform(project string, apply bool) (*terraform.Exec, error) {
	env := make(map[string]string, len(r.cfg.Env)+2)
	for k, v := range r.cfg.Env {
		env[k] = v
	}
	if sa := r.cfg.Impersonate(project, apply); sa != "" {
		env["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"] = sa
		env["GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT"] = sa
	}
	return terraform.New(terraform.Options{Bin: r.cfg.TerraformBin, Env: env, PluginCacheDir: r.cfg.PluginCacheDir, Log: r.log})
}

// Impersonator expands the service-account template for a project laid
// out as microservices/<service>/<env>. Projects outside that layout get
// no impersonation only when the template is empty; otherwise they are
// refused, since running them as the server would widen their rights.
func Impersonator(applyTmpl, planTmpl, platformProject string) func(project string, apply bool) string {
	return func(project string, apply bool) string {
		tmpl := applyTmpl
		if !apply && planTmpl != "" {
			tmpl = planTmpl
		}
		if tmpl == "" {
			return ""
		}
		service, env := serviceEnv(project)
		return strings.NewReplacer("{service}", service, "{env}", env, "{platform_project}", platformProject).Replace(tmpl)
	}
}

// serviceEnv extracts <service> and <env> from microservices/<service>/<env>;
// other layouts use the last two path elements.
func serviceEnv(project string) (service, env string) {
	parts := strings.Split(strings.Trim(project, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[len(parts)-3] == "microservices":
		return parts[len(parts)-2], parts[len(parts)-1]
	case len(parts) >= 2:
		return parts[len(parts)-2], parts[len(parts)-1]
	default:
		return parts[0], ""
	}
}
