package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

// gateWrapper is a terraform stand-in that records invocations and holds
// each apply, after saying so in logDir/applying, until ctrl/resume exists:
// the test kills what it wants meanwhile. It runs inside the sandbox, so it
// reaches the test only through those two (bound) directories.
func gateWrapper(t *testing.T, real, logDir, ctrl string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "terraform")
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s|%%s\n' "$PWD" "$*" >> %[1]q/invocations
if [ "$1" = apply ]; then
  echo start >> %[1]q/applying
  i=0; while [ ! -f %[2]q/resume ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
  %[3]q "$@"; rc=$?
  [ $rc = 0 ] && echo done >> %[1]q/applied
  exit $rc
fi
exec %[3]q "$@"
`, logDir, ctrl, real)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// proc is tfpr running as its own process, so it can be SIGKILLed.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

func (h *harness) startProcess(t *testing.T) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TFPR_ADDR=" + addr}
	for k, v := range h.env {
		env = append(env, k+"="+v)
	}
	for k, v := range h.gcs.TerraformEnv() {
		if k != "PATH" && k != "HOME" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range h.gcs.ClientEnv() {
		env = append(env, k+"="+v)
	}
	logf, err := os.OpenFile(filepath.Join(h.logDir, "tfpr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.TfprBinary(t), "server")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	h.url = "http://" + addr + "/webhook"
	eventually(t, 30*time.Second, "tfpr to listen", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return p
}

func (p *proc) exited(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func TestApplySurvivesCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the tfpr binary")
	}
	for _, point := range []string{"after-ack", "server-killed-mid-apply", "worker-killed-while-server-down"} {
		t.Run(point, func(t *testing.T) {
			h := &harness{t: t, secret: []byte("crash-secret"), data: t.TempDir(), logDir: t.TempDir()}
			ctrl := t.TempDir()
			h.gh = githubtest.New(t, githubtest.Options{})
			h.repo = h.gh.AddRepo(t, owner, repoName, installation)
			h.gcs = testenv.FakeGCS(t, bucket)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			internal := ln.Addr().String() // fixed across restarts, as in production
			ln.Close()
			h.env = map[string]string{
				"TFPR_GITHUB_APP_ID":           fmt.Sprint(h.gh.AppID()),
				"TFPR_GITHUB_PRIVATE_KEY_FILE": h.gh.WritePrivateKey(t, t.TempDir()),
				"TFPR_GITHUB_WEBHOOK_SECRET":   string(h.secret),
				"TFPR_GITHUB_API_URL":          h.gh.APIURL(),
				"TFPR_STATE_BUCKET":            bucket,
				"TFPR_DATA_DIR":                h.data,
				"TFPR_TERRAFORM_BIN":           gateWrapper(t, testenv.Terraform(t), h.logDir, ctrl),
				"TFPR_RESYNC_INTERVAL":         "1h",
				"TFPR_INTERNAL_ADDR":           internal,
				"TFPR_SANDBOX_BIND":            h.logDir + ":rw," + ctrl,

				"TFPR_INSECURE_SHARED_IDENTITY": "true",
				"TFPR_REPO_ALLOWLIST":           owner + "/" + repoName,
			}
			before := seed(t, h.repo)
			alphaPR(t, h, 1, "change", "crash-"+point)
			merge := h.repo.Merge(t, 1, "lead-carol")
			// A second merge of the project queues behind the first.
			h.repo.Commit(t, "second", map[string]string{
				"microservices/alpha/dev/extra.tf": "resource \"terraform_data\" \"second\" {\n  input = \"v3\"\n}\n",
			}, "alpha: second")
			h.repo.OpenPR(t, 2, "second", "dev-bob")
			merge2 := h.repo.Merge(t, 2, "lead-carol")
			if point == "after-ack" {
				os.WriteFile(filepath.Join(ctrl, "resume"), nil, 0o600)
			}

			p := h.startProcess(t)
			if code := h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, merge2)); code != http.StatusAccepted {
				t.Fatalf("push: status %d", code)
			}
			if point != "after-ack" {
				eventually(t, 2*time.Minute, "the first apply to start", func() bool {
					b, _ := os.ReadFile(filepath.Join(h.logDir, "applying"))
					return len(b) > 0
				})
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			if !p.exited(time.Minute) {
				t.Fatal("tfpr did not die")
			}
			if point == "worker-killed-while-server-down" {
				killWorkers(t, h.data)
				os.WriteFile(filepath.Join(ctrl, "resume"), nil, 0o600)
			}

			h.startProcess(t)
			if point == "server-killed-mid-apply" {
				// Released only now, so the restarted server finds it alive.
				time.AfterFunc(500*time.Millisecond, func() { os.WriteFile(filepath.Join(ctrl, "resume"), nil, 0o600) })
			}
			eventually(t, 3*time.Minute, "both applies reported after restart", func() bool {
				return len(h.commentsContaining(1, "Apply complete")) > 0 && len(h.commentsContaining(2, "Apply complete")) > 0
			})
			state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")))
			if !strings.Contains(state, "crash-"+point) || !strings.Contains(state, `"second"`) {
				t.Fatalf("state does not hold both merges:\n%s", state)
			}
			if lock := h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tflock")); lock != nil {
				t.Fatalf("a state lock was left behind: %s", lock)
			}
			if n := h.invocations("force-unlock", ""); n != 0 {
				t.Fatalf("%d force-unlocks; no lock outlived its holder here", n)
			}
			applied, _ := os.ReadFile(filepath.Join(h.logDir, "applied"))
			if completed := strings.Count(string(applied), "done"); completed != 2 {
				t.Fatalf("%d completed applies, want exactly 2 (one per merge, none twice)", completed)
			}
			if n := len(h.commentsContaining(1, "Apply complete")); n != 1 {
				t.Fatalf("the first apply was reported %d times", n)
			}
			st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			runs, _ := st.ListRuns(context.Background(), "apply", 10)
			if len(runs) != 2 || runs[0].Status != store.StatusSucceeded || runs[1].Status != store.StatusSucceeded {
				t.Fatalf("apply runs = %+v, want two succeeded runs", runs)
			}
			first := h.commentsContaining(1, "Apply complete")[0]
			switch point {
			case "server-killed-mid-apply":
				if !strings.Contains(first, "carried on without it") {
					t.Errorf("the adopted apply's comment should say tfpr restarted while it ran:\n%s", first)
				}
				if n := h.invocations("plan", "microservices/alpha/dev"); n != 2 {
					t.Errorf("%d plans; an adopted apply is not planned again", n)
				}
			case "worker-killed-while-server-down":
				if !strings.Contains(first, "interrupted") {
					t.Errorf("the apply comment should say the first attempt was interrupted:\n%s", first)
				}
			}
			_ = merge
		})
	}
}

// killWrapper-free killing: the worker of every open run, found through
// the handle the dead server stored.
func killWorkers(t *testing.T, data string) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(data, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	open, err := st.OpenWorkerRuns(context.Background())
	if err != nil || len(open) == 0 {
		t.Fatalf("open worker runs: %v %+v", err, open)
	}
	for _, w := range open {
		var h executor.Handle
		if err := json.Unmarshal([]byte(w.Handle), &h); err != nil || h.PID <= 0 {
			t.Fatalf("handle of run %d: %v %q", w.ID, err, w.Handle)
		}
		syscall.Kill(h.PID, syscall.SIGKILL)
		eventually(t, time.Minute, "the worker to die", func() bool {
			return syscall.Kill(h.PID, 0) != nil || isZombie(h.PID)
		})
	}
}

func isZombie(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}
