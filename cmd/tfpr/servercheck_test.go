package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/testenv"
)

// serverEnv sets a valid configuration pointing at gh in the environment.
func serverEnv(t *testing.T, gh *githubtest.Server, extra map[string]string) {
	t.Helper()
	env := map[string]string{
		"TFPR_GITHUB_APP_ID": "0", "TFPR_GITHUB_PRIVATE_KEY_FILE": "", "TFPR_GITHUB_WEBHOOK_SECRET": "s3cret",
		"TFPR_GITHUB_API_URL": "https://api.github.com/", "TFPR_STATE_BUCKET": "acme-tfstate", "TFPR_DATA_DIR": t.TempDir(),
		"TFPR_INSECURE_SHARED_IDENTITY": "true", "TFPR_TERRAFORM_BIN": testenv.Terraform(t), "TFPR_POLICY_PARAMS_FILE": "",
		"TFPR_POLICY_DIR": "", "TFPR_REPO_ALLOWLIST": "acme/infra",
	}
	if gh != nil {
		env["TFPR_GITHUB_APP_ID"] = strconv.FormatInt(gh.AppID(), 10)
		env["TFPR_GITHUB_PRIVATE_KEY_FILE"] = gh.WritePrivateKey(t, t.TempDir())
		env["TFPR_GITHUB_API_URL"] = gh.APIURL()
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestServerCheck(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	gh.AddRepo(t, "acme", "infra", 7)
	other := githubtest.New(t, githubtest.Options{}) // another App: its key is not gh's
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		extra map[string]string
		code  int
		want  []string
	}{
		{"valid", nil, 0, []string{"configuration OK"}},
		{"key of another App", map[string]string{"TFPR_GITHUB_PRIVATE_KEY_FILE": other.WritePrivateKey(t, t.TempDir())}, 2,
			[]string{"GitHub refused the App JWT (401): check that TFPR_GITHUB_APP_ID"}},
		{"unknown variable", map[string]string{"TFPR_STATE_BUCKT": "acme-tfstate"}, 2,
			[]string{"TFPR_STATE_BUCKT is not a tfpr setting (did you mean TFPR_STATE_BUCKET?)"}},
		{"terraform missing", map[string]string{"TFPR_TERRAFORM_BIN": filepath.Join(dir, "no-terraform")}, 2,
			[]string{"TFPR_TERRAFORM_BIN", "install terraform or OpenTofu"}},
		{"worker executable missing", map[string]string{"TFPR_WORKER_BIN": filepath.Join(dir, "no-tfpr-worker")}, 2,
			[]string{"TFPR_WORKER_BIN", "no-tfpr-worker"}},
		{"terraform that is not terraform", map[string]string{"TFPR_TERRAFORM_BIN": "/bin/false"}, 2,
			[]string{"version` did not print a version"}},
		{"params file", map[string]string{"TFPR_POLICY_PARAMS_FILE": write("p.json", `{"max_destroy": "five", "alowed_providers": []}`)}, 2,
			[]string{`max_destroy must be a number, got a string "five"`, `unknown key "alowed_providers"`}},
		{"several problems, one line each", map[string]string{"TFPR_STATE_BUCKET": "gs://x", "TFPR_ADDR": "8080", "TFPR_LOG_LEVEL": "loud"}, 2,
			[]string{"tfpr server: TFPR_STATE_BUCKET \"gs://x\"", "tfpr server: TFPR_ADDR \"8080\" is a port without a colon: use \":8080\"",
				"tfpr server: TFPR_LOG_LEVEL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serverEnv(t, gh, tc.extra)
			code, out, errOut := runCLI("server", "--check")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

func TestServerRefusesToStartOnBadSettings(t *testing.T) {
	serverEnv(t, nil, map[string]string{"TFPR_GITHUB_APP_ID": "1", "TFPR_STATE_BUCKET": "My_Bucket!!", "TFPR_ADDR": "8080", "TFPR_STATE_BUCKT": "x"})
	code, _, errOut := runCLI("server")
	if code != 2 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{
		"tfpr server: TFPR_GITHUB_PRIVATE_KEY_FILE is required",
		"tfpr server: TFPR_STATE_BUCKET \"My_Bucket!!\" is not a Cloud Storage bucket name",
		"tfpr server: TFPR_ADDR \"8080\" is a port without a colon: use \":8080\"",
		"tfpr server: warning: TFPR_STATE_BUCKT is not a tfpr setting",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestPrivateKeyErrorsSayWhatToFix(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	pkcs8EC, _ := x509.MarshalPKCS8PrivateKey(ec)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	pub, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	tests := []struct{ name, key, want string }{
		{"EC key", pemOf("EC PRIVATE KEY", ecDER), "GitHub App keys are RSA; this is an EC key"},
		{"EC key in PKCS#8", pemOf("PRIVATE KEY", pkcs8EC), "GitHub App keys are RSA; this is an EC key"},
		{"Ed25519 key", pemOf("PRIVATE KEY", edDER), "GitHub App keys are RSA; this is an Ed25519 key"},
		{"public key", pemOf("PUBLIC KEY", pub), "this is a public key, not a private key"},
		{"short RSA key", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "this RSA key has 1024 bits"},
		{"OpenSSH key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "this is an OpenSSH key"},
		{"not PEM", "hello", "not a PEM file"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strconv.Itoa(i)+".pem")
			os.WriteFile(p, []byte(tc.key), 0o600)
			serverEnv(t, nil, map[string]string{"TFPR_GITHUB_APP_ID": "1", "TFPR_GITHUB_PRIVATE_KEY_FILE": p})
			code, _, errOut := runCLI("server", "--check")
			if code != 2 || !strings.Contains(errOut, "TFPR_GITHUB_PRIVATE_KEY_FILE "+p+": "+tc.want) || !strings.Contains(errOut, "Private keys") {
				t.Errorf("exit %d, stderr:\n%s\nwant %q", code, errOut, tc.want)
			}
		})
	}
}
