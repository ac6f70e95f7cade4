package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MiB is a mebibyte, the unit RSS figures are printed in.
const MiB = 1 << 20

// Memory is a process's resident memory in bytes, from /proc/<pid>/status.
type Memory struct {
	RSS  int64 // VmRSS: what the process holds in RAM
	Anon int64 // RssAnon: heap, stacks, runtime; what grows with load
	File int64 // RssFile: pages of the executable and other mapped files
}

// ReadMemory returns the resident memory of process pid (Linux only).
func ReadMemory(ctx context.Context, pid int) (Memory, error) {
	if err := ctx.Err(); err != nil {
		return Memory{}, err
	}
	path := fmt.Sprintf("/proc/%d/status", pid)
	raw, err := os.ReadFile(path)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	m, err := parseStatus(raw)
	if err != nil {
		return Memory{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// parseStatus reads the "VmRSS:   1234 kB" style lines of a status file.
func parseStatus(status []byte) (Memory, error) {
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File}
	seen := 0
	for line := range strings.SplitSeq(string(status), "\n") {
		f := strings.Fields(line)
		dst, ok := fields[firstOr(f)]
		if !ok {
			continue
		}
		if len(f) != 3 || f[2] != "kB" {
			return Memory{}, fmt.Errorf("unexpected line %q", line)
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("line %q: %w", line, err)
		}
		*dst = kb << 10
		seen++
	}
	if seen != len(fields) {
		return Memory{}, errors.New("no VmRSS, RssAnon and RssFile lines (a zombie or kernel thread has none)")
	}
	return m, nil
}

func firstOr(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Server is a tfpr server process started by StartServer.
type Server struct {
	Cmd  *exec.Cmd
	Addr string // host:port it listens on
	// LogFile holds the process's stderr (its JSON log).
	LogFile string
	exited  chan error
}

// listenTimeout bounds startup: policies compile and the store opens
// before the port does.
const listenTimeout = 60 * time.Second

// StartServer runs `bin server` with exactly env (no other variables are
// inherited) and TFPR_ADDR=127.0.0.1:0, reads the address it listens on
// from its log, and waits until /healthz answers. The log goes to a file
// in logDir. The caller must call Stop.
func StartServer(ctx context.Context, bin string, env []string, logDir string) (*Server, error) {
	logFile := filepath.Join(logDir, "tfpr-server.log")
	f, err := os.Create(logFile)
	if err != nil {
		return nil, fmt.Errorf("start %s server: %w", bin, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s server: %w", bin, err)
	}
	cmd := exec.Command(bin, "server")
	cmd.Env = slices.Concat(env, []string{"TFPR_ADDR=127.0.0.1:0", "TFPR_LOG_LEVEL=info"})
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		f.Close()
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s server: %w", bin, err)
	}
	pw.Close()
	s := &Server{Cmd: cmd, LogFile: logFile, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		// Copy the whole log to the file, picking the address on the way.
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			f.Write(append(bytes.Clone(line), '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "tfpr listening" && rec.Addr != "" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		pr.Close()
		f.Close()
		s.exited <- cmd.Wait()
	}()
	waitCtx, cancel := context.WithTimeout(ctx, listenTimeout)
	defer cancel()
	select {
	case s.Addr = <-addr:
	case err := <-s.exited:
		s.exited <- err
		return nil, fmt.Errorf("%s server exited before listening (%v); log: %s", bin, err, tail(logFile))
	case <-waitCtx.Done():
		s.Stop(ctx)
		return nil, fmt.Errorf("%s server did not log its listening address within %s; log: %s", bin, listenTimeout, tail(logFile))
	}
	if err := WaitHealthy(waitCtx, "http://"+s.Addr+"/healthz"); err != nil {
		s.Stop(ctx)
		return nil, err
	}
	return s, nil
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Stop sends SIGTERM and waits up to 10 seconds for the process to exit,
// then kills it. It returns the process's exit error, if any.
func (s *Server) Stop(ctx context.Context) error {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	_ = s.Cmd.Process.Kill()
	err := <-s.exited
	s.exited <- err
	return err
}

// Kill stops the process at once, without a graceful shutdown.
func (s *Server) Kill() {
	_ = s.Cmd.Process.Kill()
	err := <-s.exited
	s.exited <- err
}

// tail returns the last lines of a log file for an error message.
func tail(path string) string {
	raw, _ := os.ReadFile(path)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// WaitHealthy polls url until it answers 200 OK or ctx ends.
func WaitHealthy(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last: %v)", url, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// IdleOptions configure IdleRSS.
type IdleOptions struct {
	Bin       string        // the tfpr binary
	Terraform string        // TFPR_TERRAFORM_BIN; never run while idle
	Settle    time.Duration // how long the server idles after /healthz answers
	Dir       string        // scratch dir for the key, data dir and log
}

// IdleMemory starts a tfpr server with a fresh App key, webhook secret,
// state bucket and data dir, lets it idle for Settle after /healthz
// answers, and returns its resident memory.
func IdleMemory(ctx context.Context, o IdleOptions) (Memory, error) {
	keyFile, err := writeAppKey(o.Dir)
	if err != nil {
		return Memory{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Memory{}, fmt.Errorf("generate webhook secret: %w", err)
	}
	home := filepath.Join(o.Dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return Memory{}, fmt.Errorf("create home: %w", err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TFPR_GITHUB_APP_ID=1",
		"TFPR_GITHUB_PRIVATE_KEY_FILE=" + keyFile,
		"TFPR_GITHUB_WEBHOOK_SECRET=" + hex.EncodeToString(secret),
		"TFPR_STATE_BUCKET=tfpr-bench-state",
		"TFPR_DATA_DIR=" + filepath.Join(o.Dir, "data"),
		"TFPR_TERRAFORM_BIN=" + o.Terraform,
		"TFPR_REPO_ALLOWLIST=acme/bench",
		"TFPR_INSECURE_SHARED_IDENTITY=true",
	}
	s, err := StartServer(ctx, o.Bin, env, o.Dir)
	if err != nil {
		return Memory{}, err
	}
	defer s.Stop(context.WithoutCancel(ctx))
	select {
	case <-time.After(o.Settle):
	case <-ctx.Done():
		return Memory{}, ctx.Err()
	}
	return ReadMemory(ctx, s.Pid())
}

// writeAppKey writes a new 2048-bit RSA key, PKCS#1 PEM, mode 0600.
func writeAppKey(dir string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate App key: %w", err)
	}
	path := filepath.Join(dir, "app.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write App key: %w", err)
	}
	return path, nil
}
