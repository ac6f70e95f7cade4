// Package e2e drives the real tfpr server end to end: signed webhooks from
// GitHub's documented payloads, a fake GitHub (App JWT, tokens, limits, git
// over smart HTTP), real git, real OPA, real terraform, and GCS state in
// fake-gcs-server.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/server"
	"github.com/tfpr/tfpr/internal/testenv"
)

const (
	owner        = "acme"
	repoName     = "microservices-terraform"
	installation = 77
	bucket       = "acme-tfstate"
)

// harness is one running tfpr with its fakes.
type harness struct {
	t      *testing.T
	gh     *githubtest.Server
	repo   *githubtest.Repo
	gcs    *testenv.GCS
	url    string
	secret []byte
	logDir string // the terraform wrapper's record of every invocation
	data   string
	env    map[string]string
	stop   func()
	kube   kubernetes.Interface
	// logPath is the server's log, as text lines.
	logPath string
}

// start launches tfpr against fresh fakes; extra sets TFPR_* variables.
func start(t *testing.T, extra map[string]string) *harness {
	t.Helper()
	return startWith(t, extra, nil)
}

// startWith is start with the kubernetes executor's client (nil: none).
func startWith(t *testing.T, extra map[string]string, kube kubernetes.Interface) *harness {
	t.Helper()
	h := &harness{t: t, secret: []byte("webhook-secret-for-tests"), data: t.TempDir(), logDir: t.TempDir(), kube: kube}
	h.gh = githubtest.New(t, githubtest.Options{})
	h.repo = h.gh.AddRepo(t, owner, repoName, installation)
	h.gcs = testenv.FakeGCS(t, bucket)
	for k, v := range h.gcs.ClientEnv() {
		t.Setenv(k, v)
	}
	h.env = h.serverEnv(wrapper(t, testenv.Terraform(t), h.logDir))
	for k, v := range extra {
		h.env[k] = v
	}
	h.boot()
	return h
}

// serverEnv is the server's configuration for the harness's fakes, with
// terraform as TFPR_TERRAFORM_BIN.
func (h *harness) serverEnv(terraform string) map[string]string {
	return map[string]string{
		"TFPR_GITHUB_APP_ID":           fmt.Sprint(h.gh.AppID()),
		"TFPR_GITHUB_PRIVATE_KEY_FILE": h.gh.WritePrivateKey(h.t, h.t.TempDir()),
		"TFPR_GITHUB_WEBHOOK_SECRET":   string(h.secret),
		"TFPR_GITHUB_API_URL":          h.gh.APIURL(),
		"TFPR_STATE_BUCKET":            bucket,
		"TFPR_DATA_DIR":                h.data,
		"TFPR_TERRAFORM_BIN":           terraform,
		"TFPR_PARALLELISM":             "4",
		"TFPR_RESYNC_INTERVAL":         "1h",
		// Impersonation needs Google's IAM API, which is offline here: the
		// tests run terraform as the test process, and say so.
		"TFPR_INSECURE_SHARED_IDENTITY": "true",
		"TFPR_REPO_ALLOWLIST":           owner + "/" + repoName,
		// Every run goes through a sandboxed tfpr-worker.
		"TFPR_WORKER_BIN":    testenv.WorkerBinary(h.t),
		"TFPR_INTERNAL_ADDR": "127.0.0.1:0",
		"TFPR_SANDBOX_BIND":  h.logDir + ":rw",
		// Drift checks plan on their own schedule; tests that want them
		// turn them on.
		"TFPR_DRIFT_INTERVAL": "0",
	}
}

// boot starts (or restarts) the server on the harness's data dir.
func (h *harness) boot() {
	t := h.t
	t.Helper()
	getenv := func(k string) string {
		if v, ok := h.env[k]; ok {
			return v
		}
		if v, ok := h.gcs.TerraformEnv()[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	cfg, _, err := config.Load("tfpr server", nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log, logPath := testLogger(t)
	h.logPath = logPath
	srv, err := server.New(ctx, cfg, server.Options{Getenv: getenv, Log: log, Kubernetes: h.kube})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	h.url = "http://" + ln.Addr().String() + "/webhook"
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	}
	t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
		endWorkers(t, h.data)
	})
}

// endWorkers kills the sandboxes and workers still running from the data
// dir and waits until they are gone. Runs outlive the server by design, so
// a run a test did not wait for (a drift check on a short interval) would
// otherwise write into the test's directories while they are removed.
func endWorkers(t *testing.T, dataDir string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pids := processesMentioning(dataDir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes %v still run from %s a minute after being killed", pids, dataDir)
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond) // polls the condition above
	}
}

// processesMentioning lists the live processes whose command line holds s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stateObject is the GCS object holding project dir's state in the
// harness's repository, under tfpr's default prefix <owner>/<repo>/<dir>.
func stateObject(dir, file string) string {
	return owner + "/" + repoName + "/" + dir + "/" + file
}

// deliver sends a signed webhook and returns the status code.
func (h *harness) deliver(event string, body []byte) int {
	h.t.Helper()
	return h.gh.Deliver(h.t, h.url, h.secret, event, body).StatusCode
}

// wrapper writes a terraform stand-in that records each invocation (its
// directory, arguments and environment) and then runs the real binary;
// plan's own output is also kept, in plan-output.
func wrapper(t *testing.T, real, logDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "terraform")
	script := fmt.Sprintf(`#!/bin/sh
n=$(date +%%s%%N)-$$
printf '%%s|%%s\n' "$PWD" "$*" >> %[1]q/invocations
env > %[1]q/env.$1.$n
if [ "$1" = apply ] && [ -f %[1]q/slow-apply ]; then sleep 2; fi
if [ "$1" = plan ] && [ -f %[1]q/hold-plan ]; then
	touch %[1]q/plan-held
	while [ -f %[1]q/hold-plan ]; do sleep 0.05; done
fi
if [ "$1" = apply ]; then ls *.tf | tr '\n' ' ' >> %[1]q/apply-files; echo >> %[1]q/apply-files; fi
if [ "$1" = plan ]; then printf '%%s|%%s\n' "$PWD" "$(ls *.tf | tr '\n' ' ')" >> %[1]q/plan-files; fi
if [ "$1" = plan ]; then
	{ %[2]q "$@"; echo $? > %[1]q/plan-rc.$n; } | tee -a %[1]q/plan-output
	exit "$(cat %[1]q/plan-rc.$n)"
fi
exec %[2]q "$@"
`, logDir, real)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// invocationLines returns the wrapper's "dir|args" records, oldest first.
func (h *harness) invocationLines() []string {
	raw, _ := os.ReadFile(filepath.Join(h.logDir, "invocations"))
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

// invocations counts terraform runs of subcommand in project dirs ending
// with project ("" for any).
func (h *harness) invocations(sub, project string) int {
	n := 0
	for _, line := range h.invocationLines() {
		dir, args, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		f := strings.Fields(args)
		if len(f) > 0 && f[0] == sub && (project == "" || strings.HasSuffix(dir, "/"+project)) {
			n++
		}
	}
	return n
}

// recordedEnv is one terraform invocation's subcommand and environment.
type recordedEnv struct{ sub, env string }

// recordedEnvs returns the environment of every terraform invocation.
func (h *harness) recordedEnvs() []recordedEnv {
	files, _ := filepath.Glob(filepath.Join(h.logDir, "env.*"))
	var out []recordedEnv
	for _, f := range files {
		sub, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(f), "env."), ".")
		raw, _ := os.ReadFile(f)
		out = append(out, recordedEnv{sub: sub, env: string(raw)})
	}
	return out
}

// terraformEnvs returns the environment of every terraform run for a
// project: all but the `version` the server asks once at start.
func (h *harness) terraformEnvs() []string {
	var out []string
	for _, r := range h.recordedEnvs() {
		if r.sub != "version" {
			out = append(out, r.env)
		}
	}
	return out
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) commentsContaining(pr int, s string) []string {
	var out []string
	for _, c := range h.repo.Comments(pr) {
		if strings.Contains(c.Body, s) {
			out = append(out, c.Body)
		}
	}
	return out
}

func (h *harness) checkRun(name, sha string) (githubtest.CheckRun, bool) {
	for _, cr := range h.repo.CheckRuns() {
		if cr.Name == name && cr.HeadSHA == sha && cr.Status == "completed" {
			return cr, true
		}
	}
	return githubtest.CheckRun{}, false
}

// testLogger writes the server's log to a file and prints it if the test
// fails: a goroutine logging after the test ends cannot panic this way.
func testLogger(t *testing.T) (*slog.Logger, string) {
	path := filepath.Join(t.TempDir(), "tfpr.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			raw, _ := os.ReadFile(path)
			if len(raw) > 30000 {
				raw = raw[len(raw)-30000:]
			}
			t.Logf("tfpr log:\n%s", raw)
		}
	})
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), path
}

// fakeIAM is the IAM Credentials API at its HTTP boundary: it mints a
// token naming the account asked for, for tfpr's own (test) token only.
func fakeIAM(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/")
		sa, ok2 := strings.CutSuffix(rest, ":generateAccessToken")
		if !ok || !ok2 || r.Header.Get("Authorization") != "Bearer fake" {
			http.Error(w, "denied", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, `{"accessToken":%q,"expireTime":%q}`, mintedFor(sa), time.Now().Add(time.Hour).Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// mintedFor is the token fakeIAM mints for service account sa.
func mintedFor(sa string) string { return "ya29.minted-for-" + sa }
