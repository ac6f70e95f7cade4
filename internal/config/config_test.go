package config

import (
	"strings"
	"testing"
	"time"
)

func TestFlagsOverrideTheirEnvironmentTwins(t *testing.T) {
	env := map[string]string{"TFPR_ADDR": ":9000", "TFPR_PARALLELISM": "3", "TFPR_RESYNC_INTERVAL": "10m", "TFPR_REPO_ALLOWLIST": "acme/*, other/infra"}
	c, _, err := Load("tfpr server", []string{"-parallelism", "7"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.Parallelism != 7 || c.ResyncInterval != 10*time.Minute || c.APIURL != "https://api.github.com/" {
		t.Fatalf("config = %+v", c)
	}
	if !c.RepoAllowed("ACME/microservices-terraform") || !c.RepoAllowed("other/infra") || c.RepoAllowed("evil/infra") {
		t.Fatalf("allowlist %v misjudges repositories", c.RepoAllowlist)
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	tests := map[string]string{
		"TFPR_PARALLELISM":         "many",
		"TFPR_GITHUB_APP_ID":       "-1",
		"TFPR_RESYNC_INTERVAL":     "soon",
		"TFPR_ALLOW_FORK_PRS":      "perhaps",
		"TFPR_APPLY_ON_DRIFT":      "sometimes",
		"TFPR_WEBHOOK_BODY_BUDGET": "64MB",
	}
	for k, v := range tests {
		_, _, err := Load("tfpr server", nil, func(name string) string {
			if name == k {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: err = %v, want one naming %s", k, v, err, k)
		}
	}
}

func TestValidateServerListsEverythingMissing(t *testing.T) {
	c, _, _ := Load("tfpr server", nil, func(string) string { return "" })
	err := c.ValidateServer()
	for _, want := range []string{"TFPR_GITHUB_APP_ID", "TFPR_GITHUB_PRIVATE_KEY_FILE", "TFPR_GITHUB_WEBHOOK_SECRET", "TFPR_STATE_BUCKET"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s not reported: %v", want, err)
		}
	}
	c.APIURL = "https://ghe.example.com/api/v3"
	c.ValidateServer()
	if c.APIURL != "https://ghe.example.com/api/v3/" || !c.EnterpriseAPI() {
		t.Errorf("GHES URL not normalised: %q", c.APIURL)
	}
}

func TestWebhookBodyBudgetSizes(t *testing.T) {
	for v, want := range map[string]int64{"": 64 << 20, "96MiB": 96 << 20, "1GiB": 1 << 30, "40000000": 40000000} {
		c, _, err := Load("tfpr server", nil, func(k string) string {
			if k == "TFPR_WEBHOOK_BODY_BUDGET" {
				return v
			}
			return ""
		})
		if err != nil || c.WebhookBodyBudget != want {
			t.Errorf("TFPR_WEBHOOK_BODY_BUDGET=%q: %d, %v; want %d", v, c.WebhookBodyBudget, err, want)
		}
	}
}
func validate(t *testing.T, env map[string]string) error {
	t.Helper()
	base := map[string]string{"TFPR_GITHUB_APP_ID": "1", "TFPR_GITHUB_PRIVATE_KEY_FILE": "k.pem", "TFPR_GITHUB_WEBHOOK_SECRET": "s", "TFPR_STATE_BUCKET": "acme-tfstate"}
	for k, v := range env {
		base[k] = v
	}
	c, _, err := Load("tfpr server", nil, func(k string) string { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c.ValidateServer()
}

func TestSharedIdentityNeedsExplicitConsent(t *testing.T) {
	err := validate(t, nil)
	if err == nil || !strings.Contains(err.Error(), "TFPR_IMPERSONATE_TEMPLATE is required") || !strings.Contains(err.Error(), "TFPR_INSECURE_SHARED_IDENTITY") {
		t.Fatalf("no template and no consent: err = %v", err)
	}
	if err := validate(t, map[string]string{"TFPR_INSECURE_SHARED_IDENTITY": "true"}); err != nil {
		t.Fatalf("explicit shared identity: %v", err)
	}
	if err := validate(t, map[string]string{"TFPR_IMPERSONATE_TEMPLATE": "tf-{service}-{env}@{platform_project}.iam.gserviceaccount.com", "TFPR_PLATFORM_PROJECT": "acme-platform"}); err != nil {
		t.Fatalf("a template: %v", err)
	}
}

func TestTemplatesMustTellRepositoriesApart(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for valid
	}{
		{"default prefix, glob allowlist", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/*,other/infra",
			"TFPR_IMPERSONATE_TEMPLATE": "tf-{owner}-{repo}-{service}-{env}@p.iam.gserviceaccount.com"}, ""},
		{"dir-only prefix, one literal repo", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/infra", "TFPR_STATE_PREFIX_TEMPLATE": "{dir}",
			"TFPR_IMPERSONATE_TEMPLATE": "tf-{service}-{env}@p.iam.gserviceaccount.com"}, ""},
		{"dir-only prefix, several repos", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/*", "TFPR_STATE_PREFIX_TEMPLATE": "{dir}",
			"TFPR_INSECURE_SHARED_IDENTITY": "true"}, "TFPR_STATE_PREFIX_TEMPLATE \"{dir}\" has no {repo}"},
		{"account without repo, several repos", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/a,acme/b",
			"TFPR_IMPERSONATE_TEMPLATE": "tf-{service}-{env}@p.iam.gserviceaccount.com"}, "TFPR_IMPERSONATE_TEMPLATE \"tf-{service}-{env}@p.iam.gserviceaccount.com\" has no {repo}"},
		{"one owner: repo is enough", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/a,acme/b",
			"TFPR_IMPERSONATE_TEMPLATE": "tf-{repo}-{service}-{env}@p.iam.gserviceaccount.com"}, ""},
		{"two owners need owner", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/a,other/a",
			"TFPR_IMPERSONATE_TEMPLATE": "tf-{repo}-{service}-{env}@p.iam.gserviceaccount.com"}, "has no {owner}"},
		{"plan account too", map[string]string{"TFPR_REPO_ALLOWLIST": "acme/*",
			"TFPR_IMPERSONATE_TEMPLATE":      "tf-{repo}-{service}-{env}@p.iam.gserviceaccount.com",
			"TFPR_PLAN_IMPERSONATE_TEMPLATE": "ro-{service}-{env}@p.iam.gserviceaccount.com"}, "TFPR_PLAN_IMPERSONATE_TEMPLATE"},
		{"prefix without dir", map[string]string{"TFPR_STATE_PREFIX_TEMPLATE": "{owner}/{repo}", "TFPR_INSECURE_SHARED_IDENTITY": "true"}, "has no {dir}"},
		{"unknown placeholder", map[string]string{"TFPR_IMPERSONATE_TEMPLATE": "tf-{servce}-{env}@p.iam.gserviceaccount.com"}, "unknown placeholder {servce}"},
	}
	for _, tt := range tests {
		err := validate(t, tt.env)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestProjectCapIsConfigurable(t *testing.T) {
	c, _, err := Load("tfpr server", nil, func(string) string { return "" })
	if err != nil || c.MaxProjectsPerPR != 200 {
		t.Fatalf("default cap = %d (%v), want 200", c.MaxProjectsPerPR, err)
	}
	if _, _, err := Load("tfpr server", []string{"-max-projects-per-pr", "0"}, func(string) string { return "" }); err == nil {
		t.Fatal("a cap of 0 was accepted")
	}
}
