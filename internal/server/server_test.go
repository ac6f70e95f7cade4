package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/config"
)

func keyFile(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
	return path
}

func load(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Load("tfpr server", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func baseEnv(t *testing.T) map[string]string {
	return map[string]string{
		"TFPR_GITHUB_APP_ID": "42", "TFPR_GITHUB_PRIVATE_KEY_FILE": keyFile(t), "TFPR_GITHUB_WEBHOOK_SECRET": "s3cret-value",
		"TFPR_STATE_BUCKET": "state", "TFPR_DATA_DIR": t.TempDir(),
		"TFPR_REPO_ALLOWLIST": "acme/infra", "TFPR_INSECURE_SHARED_IDENTITY": "true",
		"TFPR_INTERNAL_ADDR": "127.0.0.1:0",
	}
}

func TestRefusesToStartWithoutRequiredSettings(t *testing.T) {
	_, err := New(context.Background(), load(t, map[string]string{}), Options{})
	if err == nil {
		t.Fatal("started without an App, a key, a webhook secret and a bucket")
	}
	for _, want := range []string{"TFPR_GITHUB_APP_ID", "TFPR_GITHUB_PRIVATE_KEY_FILE", "TFPR_GITHUB_WEBHOOK_SECRET", "TFPR_STATE_BUCKET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestRefusesInvalidPoliciesWithFileAndLine(t *testing.T) {
	env := baseEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.rego"), []byte("package tfpr.hcl.bad\n\ndeny contains msg if {\n  msg := \n}\n"), 0o644)
	env["TFPR_POLICY_DIR"] = dir
	_, err := New(context.Background(), load(t, env), Options{})
	if err == nil || !strings.Contains(err.Error(), "bad.rego:") {
		t.Fatalf("invalid Rego: err = %v, want the compiler's bad.rego:line", err)
	}
	env = baseEnv(t)
	params := filepath.Join(t.TempDir(), "params.json")
	os.WriteFile(params, []byte(`{"max_destroy": 5,`), 0o644)
	env["TFPR_POLICY_PARAMS_FILE"] = params
	if _, err := New(context.Background(), load(t, env), Options{}); err == nil || !strings.Contains(err.Error(), "params.json") {
		t.Fatalf("broken params file: err = %v", err)
	}
}

func TestRefusesBodyBudgetTooSmallForTheLargestDelivery(t *testing.T) {
	env := baseEnv(t)
	env["TFPR_WEBHOOK_BODY_BUDGET"] = "16MiB"
	_, err := New(context.Background(), load(t, env), Options{})
	if err == nil || !strings.Contains(err.Error(), "TFPR_WEBHOOK_BODY_BUDGET") {
		t.Fatalf("a 16 MiB budget for 25 MiB deliveries: err = %v, want a refusal naming TFPR_WEBHOOK_BODY_BUDGET", err)
	}
}

func TestOneServerPerDataDir(t *testing.T) {
	env := baseEnv(t)
	s, err := New(context.Background(), load(t, env), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := New(context.Background(), load(t, env), Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second server on the same data dir: err = %v, want refusal", err)
	}
}

func TestEndpoints(t *testing.T) {
	s, err := New(context.Background(), load(t, baseEnv(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 200, "/nope": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, _ := http.Post(srv.URL+"/webhook", "application/json", strings.NewReader("{}"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned delivery = %d, want 401", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/metrics")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "tfpr_webhook_deliveries_total") || !strings.Contains(string(raw), "bad_signature") {
		t.Errorf("/metrics does not count the refused delivery:\n%.2000s", raw)
	}
}
