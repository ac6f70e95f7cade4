package worker

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// niceOf reads a process's niceness from /proc/<pid>/stat.
func niceOf(t *testing.T, stat string) int {
	t.Helper()
	// Fields after the command name, which is in parentheses and may
	// hold spaces; niceness is field 19 of the whole line.
	rest := stat[strings.LastIndexByte(stat, ')')+2:]
	f := strings.Fields(rest)
	n, err := strconv.Atoi(f[19-3])
	if err != nil {
		t.Fatalf("read niceness from %q: %v", stat, err)
	}
	return n
}

// The terraform a worker starts runs at the worker's lowered priority,
// whichever of the worker's threads starts it. The worker is this test
// binary run again, so the test process itself keeps its priority.
func TestTerraformRunsAtWorkerPriority(t *testing.T) {
	if os.Getenv("TFPR_TEST_WORKER_PRIORITY") == "1" {
		// No server answers: Run gives up once the context ends, after
		// it has set the process up.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := Run(ctx, Options{Server: "http://127.0.0.1:1", RunID: 1, Token: "t", Dir: os.TempDir(), Log: slog.New(slog.DiscardHandler)}); err == nil {
			os.Stdout.WriteString("error: Run succeeded without a server")
			os.Exit(1)
		}
		// The session's priority is set in the background, as often as
		// the kernel allows: wait for it, or report what it stayed at.
		if group, err := os.ReadFile("/proc/self/autogroup"); err == nil {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				if f := strings.Fields(string(group)); len(f) == 3 && f[2] == strconv.Itoa(Nice) {
					break
				}
				time.Sleep(20 * time.Millisecond)
				group, _ = os.ReadFile("/proc/self/autogroup")
			}
			os.Stdout.Write(group) // "/autogroup-N nice M\n"
		}
		// Several children, from whatever threads the runtime picks.
		for range 8 {
			out, err := exec.Command("cat", "/proc/self/stat").Output()
			if err != nil {
				os.Stdout.WriteString("error: " + err.Error())
				os.Exit(1)
			}
			os.Stdout.Write(out) // one line, newline included
		}
		os.Exit(0)
	}
	self := []string{os.Args[0], "-test.run", "^TestTerraformRunsAtWorkerPriority$"}
	t.Run("own session", func(t *testing.T) {
		// As the unsandboxed executor starts a worker: it leads its session.
		cmd := exec.Command(self[0], self[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		checkWorkerPriority(t, cmd)
	})
	// As the local executor starts one: bubblewrap's namespace init leads
	// the sandbox's session, and the worker is its child.
	sandboxed := func(t *testing.T, n int) {
		bwrap, err := exec.LookPath("bwrap")
		if err != nil {
			t.Skip("no bwrap")
		}
		args := append([]string{"--unshare-user", "--unshare-pid", "--new-session", "--ro-bind", "/", "/",
			"--proc", "/proc", "--dev", "/dev", "--"}, self...)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { checkWorkerPriority(t, exec.Command(bwrap, args...)) })
		}
		wg.Wait()
	}
	t.Run("sandbox", func(t *testing.T) { sandboxed(t, 1) })
	// A PR starts many workers together, and the kernel lets an
	// unprivileged process renice an autogroup only once per 100 ms on the
	// whole host: each must get there in turn.
	t.Run("many sandboxes at once", func(t *testing.T) { sandboxed(t, 6) })
	if self, _ := os.ReadFile("/proc/self/stat"); niceOf(t, string(self)) >= Nice {
		t.Log("the test process itself runs niced already; the checks prove little here")
	}
}

// checkWorkerPriority runs cmd, this test binary as a worker, and checks
// what it reports: its session's autogroup and its children's niceness.
func checkWorkerPriority(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Env = append(os.Environ(), "TFPR_TEST_WORKER_PRIORITY=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("worker process: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if _, err := os.Stat("/proc/self/autogroup"); err == nil {
		if len(lines) == 0 || !strings.HasPrefix(lines[0], "/autogroup-") {
			t.Fatalf("want the worker's autogroup first, got:\n%s", out)
		}
		if f := strings.Fields(lines[0]); len(f) != 3 || f[2] != strconv.Itoa(Nice) {
			t.Errorf("the worker's session is scheduled at %q, want nice %d", lines[0], Nice)
		}
		lines = lines[1:]
	}
	if len(lines) != 8 {
		t.Fatalf("want 8 child stat lines, got:\n%s", out)
	}
	for _, l := range lines {
		if n := niceOf(t, l); n < Nice {
			t.Errorf("a child of the worker runs at niceness %d, want at least %d: %s", n, Nice, l)
		}
	}
}
