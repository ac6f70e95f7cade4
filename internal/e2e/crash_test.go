package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

var tfprBinary struct {
	once sync.Once
	path string
	err  error
}

// binary builds cmd/tfpr once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	tfprBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "tfpr-e2e-bin-")
		if err != nil {
			tfprBinary.err = err
			return
		}
		tfprBinary.path = filepath.Join(dir, "tfpr")
		out, err := exec.Command("go", "build", "-o", tfprBinary.path, "github.com/tfpr/tfpr/cmd/tfpr").CombinedOutput()
		if err != nil {
			tfprBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if tfprBinary.err != nil {
		t.Fatal(tfprBinary.err)
	}
	return tfprBinary.path
}

// killWrapper is a terraform stand-in that records invocations and, when a
// control file says so, SIGKILLs tfpr (its parent) around an apply.
func killWrapper(t *testing.T, real, logDir, ctrl string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "terraform")
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s|%%s\n' "$PWD" "$*" >> %[1]q/invocations
if [ "$1" = apply ]; then
  if [ -f %[2]q/kill-before-apply ]; then rm -f %[2]q/kill-before-apply; kill -9 $PPID; sleep 5; exit 1; fi
  if [ -f %[2]q/kill-during-apply ]; then
    rm -f %[2]q/kill-during-apply
    (sleep 0.1; kill -9 $PPID) &
    exec %[3]q "$@"
  fi
  if [ -f %[2]q/kill-after-apply ]; then
    rm -f %[2]q/kill-after-apply
    %[3]q "$@"; rc=$?
    [ $rc = 0 ] && echo done >> %[1]q/applied
    kill -9 $PPID; exit $rc
  fi
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
	cmd := exec.Command(binary(t), "server")
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
	for _, point := range []string{"after-ack", "kill-before-apply", "kill-during-apply", "kill-after-apply"} {
		t.Run(point, func(t *testing.T) {
			h := &harness{t: t, secret: []byte("crash-secret"), data: t.TempDir(), logDir: t.TempDir()}
			ctrl := t.TempDir()
			h.gh = githubtest.New(t, githubtest.Options{})
			h.repo = h.gh.AddRepo(t, owner, repoName, installation)
			h.gcs = testenv.FakeGCS(t, bucket)
			h.env = map[string]string{
				"TFPR_GITHUB_APP_ID":           fmt.Sprint(h.gh.AppID()),
				"TFPR_GITHUB_PRIVATE_KEY_FILE": h.gh.WritePrivateKey(t, t.TempDir()),
				"TFPR_GITHUB_WEBHOOK_SECRET":   string(h.secret),
				"TFPR_GITHUB_API_URL":          h.gh.APIURL(),
				"TFPR_STATE_BUCKET":            bucket,
				"TFPR_DATA_DIR":                h.data,
				"TFPR_TERRAFORM_BIN":           killWrapper(t, testenv.Terraform(t), h.logDir, ctrl),
				"TFPR_RESYNC_INTERVAL":         "1h",

				"TFPR_INSECURE_SHARED_IDENTITY": "true",
				"TFPR_REPO_ALLOWLIST":           owner + "/" + repoName,
			}
			before := seed(t, h.repo)
			alphaPR(t, h, 1, "change", "crash-"+point)
			merge := h.repo.Merge(t, 1, "lead-carol")

			p := h.startProcess(t)
			if point != "after-ack" {
				os.WriteFile(filepath.Join(ctrl, point), nil, 0o600)
			}
			if code := h.deliver("push", h.repo.PushPayload(t, "refs/heads/main", before, merge)); code != http.StatusAccepted {
				t.Fatalf("push: status %d", code)
			}
			if point == "after-ack" {
				p.cmd.Process.Signal(syscall.SIGKILL)
			}
			if !p.exited(2 * time.Minute) {
				t.Fatalf("tfpr was not killed at %s", point)
			}

			h.startProcess(t) // the restart must finish what the crash interrupted
			eventually(t, 3*time.Minute, "apply reported after restart", func() bool {
				return len(h.commentsContaining(1, "Apply complete")) > 0
			})
			state := string(h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tfstate")))
			if !strings.Contains(state, "crash-"+point) {
				t.Fatalf("state does not hold the merged change:\n%s", state)
			}
			if lock := h.gcs.Object(t, stateObject("microservices/alpha/dev", "default.tflock")); lock != nil {
				t.Fatalf("a state lock was left behind: %s", lock)
			}
			applied, _ := os.ReadFile(filepath.Join(h.logDir, "applied"))
			completed := strings.Count(string(applied), "done")
			switch point {
			case "kill-during-apply":
				// The killed apply may or may not have finished; either way
				// nothing may be applied on top of a finished one.
				if completed > 1 {
					t.Fatalf("%d completed applies, want at most 1 besides the interrupted one", completed)
				}
			default:
				if completed != 1 {
					t.Fatalf("%d completed applies, want exactly 1", completed)
				}
			}
			// One apply run for the merge, succeeded.
			st, err := store.OpenSQLite(context.Background(), filepath.Join(h.data, "tfpr.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			runs, _ := st.ListRuns(context.Background(), "apply", 10)
			if len(runs) != 1 || runs[0].Status != store.StatusSucceeded || runs[0].SHA != merge {
				t.Fatalf("apply runs = %+v, want one succeeded run at the merge commit", runs)
			}
			if point != "after-ack" && !strings.Contains(h.commentsContaining(1, "Apply complete")[0], "interrupted") {
				t.Errorf("the apply comment should say the first attempt was interrupted:\n%s", h.commentsContaining(1, "Apply complete")[0])
			}
		})
	}
}
