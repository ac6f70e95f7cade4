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
