package server

import (
	"context"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubtest"
)

// githubEnv is baseEnv against a fake GitHub, without an allowlist.
func githubEnv(t *testing.T, gh *githubtest.Server) map[string]string {
	env := baseEnv(t)
	env["TFPR_GITHUB_APP_ID"] = "4242"
	env["TFPR_GITHUB_PRIVATE_KEY_FILE"] = gh.WritePrivateKey(t, t.TempDir())
	env["TFPR_GITHUB_API_URL"] = gh.APIURL()
	delete(env, "TFPR_REPO_ALLOWLIST")
	return env
}

func TestRefusesToStartWithoutAllowlistWhenSeveralReposAreInstalled(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	gh.AddRepo(t, "acme", "infra", 1)
	gh.AddRepo(t, "other", "infra", 2)
	_, err := New(context.Background(), load(t, githubEnv(t, gh)), Options{})
	if err == nil {
		t.Fatal("started on two installed repositories without TFPR_REPO_ALLOWLIST")
	}
	for _, want := range []string{"TFPR_REPO_ALLOWLIST is required", "acme/infra", "other/infra"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	env := githubEnv(t, gh)
	env["TFPR_REPO_ALLOWLIST"] = "acme/infra"
	s, err := New(context.Background(), load(t, env), Options{})
	if err != nil {
		t.Fatalf("an explicit allowlist must let it start: %v", err)
	}
	s.close()
}

func TestEmptyAllowlistIsPinnedToTheOneInstalledRepo(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	gh.AddRepo(t, "acme", "infra", 1)
	cfg := load(t, githubEnv(t, gh))
	s, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	// A repository installed after start-up gets nothing done for it.
	gh.AddRepo(t, "acme", "infra-two", 1)
	if !cfg.RepoAllowed("acme/infra") || cfg.RepoAllowed("acme/infra-two") || cfg.RepoAllowed("evil/infra") {
		t.Fatalf("allowlist after start-up = %v, want only acme/infra", cfg.RepoAllowlist)
	}
	for _, g := range gh.Tokens() {
		if len(g.Permissions) != 1 || g.Permissions["metadata"] != "read" {
			t.Errorf("the listing token asked for %v, want metadata:read only", g.Permissions)
		}
	}
}

func TestRefusesToStartWithoutAnInstalledRepo(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	_, err := New(context.Background(), load(t, githubEnv(t, gh)), Options{})
	if err == nil || !strings.Contains(err.Error(), "TFPR_REPO_ALLOWLIST") || !strings.Contains(err.Error(), "no repository") {
		t.Fatalf("no installed repository: err = %v", err)
	}
}

func TestRefusesToStartWithSharedIdentityUnlessAskedFor(t *testing.T) {
	env := baseEnv(t)
	delete(env, "TFPR_INSECURE_SHARED_IDENTITY")
	_, err := New(context.Background(), load(t, env), Options{})
	if err == nil || !strings.Contains(err.Error(), "TFPR_IMPERSONATE_TEMPLATE is required") || !strings.Contains(err.Error(), "TFPR_INSECURE_SHARED_IDENTITY") {
		t.Fatalf("no impersonation template: err = %v, want a refusal naming both settings", err)
	}
	env["TFPR_IMPERSONATE_TEMPLATE"] = "tf-{service}-{env}@p.iam.gserviceaccount.com"
	s, err := New(context.Background(), load(t, env), Options{})
	if err != nil {
		t.Fatalf("with a template: %v", err)
	}
	s.close()
}
