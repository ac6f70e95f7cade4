// Package workspace keeps one bare git mirror per repository, fetches only
// the refs a run needs, and materialises a separate checkout per run.
//
// Every git invocation runs with a minimal environment so that the host's git
// configuration cannot change behaviour, and installation tokens travel only
// through the environment of the fetch process: never in a URL, argv, or a
// file on disk.
package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
)

// Repo identifies a repository to mirror.
type Repo struct {
	FullName string // "owner/name"
	CloneURL string // plain URL without credentials, e.g. https://github.com/owner/name.git
}

func (r Repo) String() string { return r.FullName }

// Manager owns the mirrors and checkouts under one data directory. The
// directory must not be shared with another Manager.
type Manager struct {
	dir       string
	mirrors   string
	checkouts string
	git       string
	log       *slog.Logger
	// Metrics counts failed fetches from GitHub; nil counts nothing.
	Metrics *metrics.Metrics

	mu    sync.Mutex
	locks map[string]chan struct{}
}

// New prepares dir/mirrors and dir/checkouts and locates the git binary.
func New(dir string, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace dir %q: %w", dir, err)
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("workspace: find git binary: %w", err)
	}
	m := &Manager{
		dir:       abs,
		mirrors:   filepath.Join(abs, "mirrors"),
		checkouts: filepath.Join(abs, "checkouts"),
		git:       gitBin,
		log:       log,
		locks:     map[string]chan struct{}{},
	}
	for _, d := range []string{m.mirrors, m.checkouts} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("workspace: create %s: %w", d, err)
		}
	}
	return m, nil
}

// repoNamePart mirrors GitHub's allowed characters; anything else could
// escape the mirrors directory.
var repoNamePart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// mirrorPath returns the mirror location for repo. GitHub names are
// case-insensitive, so the path is lower-cased to keep one mirror per repo.
func (m *Manager) mirrorPath(repo Repo) (string, error) {
	owner, name, ok := strings.Cut(repo.FullName, "/")
	if !ok || !validPart(owner) || !validPart(name) {
		return "", fmt.Errorf("invalid repository name %q: want owner/name", repo.FullName)
	}
	return filepath.Join(m.mirrors, strings.ToLower(owner), strings.ToLower(name)+".git"), nil
}

func validPart(s string) bool {
	return repoNamePart.MatchString(s) && s != "." && s != ".."
}

// existingMirror returns the mirror path, failing clearly when nothing was
// fetched yet: read operations must never create a mirror implicitly.
func (m *Manager) existingMirror(repo Repo) (string, error) {
	p, err := m.mirrorPath(repo)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(p, "HEAD")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no mirror of %s yet: fetch it first", repo.FullName)
		}
		return "", fmt.Errorf("mirror of %s: %w", repo.FullName, err)
	}
	return p, nil
}

// lock serialises mutations of one mirror while letting different
// repositories fetch in parallel. A channel, unlike sync.Mutex, lets a waiter
// give up when its context ends.
func (m *Manager) lock(ctx context.Context, key string) (unlock func(), err error) {
	m.mu.Lock()
	ch, ok := m.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		m.locks[key] = ch
	}
	m.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var fullSHA = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

// Fetch creates the bare mirror on first use and fetches the given refspecs
// from repo.CloneURL. A refspec may be a bare commit sha; one already present
// in the mirror is not fetched again. token may be empty for public or local
// repositories.
func (m *Manager) Fetch(ctx context.Context, repo Repo, token string, refspecs ...string) error {
	defer observe.Time(ctx, metrics.PhaseFetch)()
	if err := m.fetch(ctx, repo, token, refspecs); err != nil {
		if ctx.Err() == nil {
			m.Metrics.GitError(metrics.GitFetch)
		}
		return fmt.Errorf("fetch %s: %w", repo.FullName, err)
	}
	return nil
}

func (m *Manager) fetch(ctx context.Context, repo Repo, token string, refspecs []string) error {
	mirror, err := m.mirrorPath(repo)
	if err != nil {
		return err
	}
	if err := checkCloneURL(repo.CloneURL); err != nil {
		return err
	}
	if len(refspecs) == 0 {
		return errors.New("no refspecs given")
	}
	for _, rs := range refspecs {
		if rs == "" || strings.HasPrefix(rs, "-") || strings.ContainsAny(rs, " \t\r\n\x00") {
			return fmt.Errorf("invalid refspec %q", rs)
		}
	}

	unlock, err := m.lock(ctx, mirror)
	if err != nil {
		return err
	}
	defer unlock()

	if err := m.ensureMirror(ctx, mirror, repo.CloneURL); err != nil {
		return err
	}

	var want []string
	for _, rs := range refspecs {
		if fullSHA.MatchString(rs) && m.hasCommit(ctx, mirror, rs) {
			continue
		}
		want = append(want, rs)
	}
	if len(want) == 0 {
		return nil
	}

	start := time.Now()
	args := append([]string{"--git-dir=" + mirror, "fetch", "--no-tags", "--no-recurse-submodules",
		"--no-write-fetch-head", "--quiet", "origin"}, want...)
	var env []string
	var secrets []string
	if token != "" {
		header := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
		env = []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=" + header}
		secrets = []string{token, header, base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))}
	}
	if _, err := m.run(ctx, runOpts{env: env, secrets: secrets}, args...); err != nil {
		return err
	}
	m.log.DebugContext(ctx, "fetched", "repo", repo.FullName, "refspecs", want, "duration", time.Since(start))
	return nil
}

// checkCloneURL rejects URLs that carry credentials (they would be stored in
// the mirror config) or that git could parse as an option.
func checkCloneURL(raw string) error {
	if raw == "" {
		return errors.New("empty clone URL")
	}
	if strings.HasPrefix(raw, "-") || strings.ContainsAny(raw, "\r\n\x00") {
		return errors.New("invalid clone URL")
	}
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			// url.Error would echo the URL, which may hold a secret.
			return errors.New("clone URL does not parse")
		}
		if u.User != nil {
			return errors.New("clone URL must not contain credentials: pass the token separately")
		}
	}
	return nil
}

// ensureMirror initialises the bare mirror atomically (init in a temporary
// directory, then rename) so a crash never leaves a half-made mirror, and
// keeps remote.origin.url in sync with the clone URL.
func (m *Manager) ensureMirror(ctx context.Context, mirror, cloneURL string) error {
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err == nil {
		cur, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "config", "--get", "remote.origin.url")
		if err == nil && strings.TrimSpace(string(cur)) == cloneURL {
			return nil
		}
		_, err = m.run(ctx, runOpts{}, "--git-dir="+mirror, "config", "remote.origin.url", cloneURL)
		return err
	}
	parent := filepath.Dir(mirror)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return fmt.Errorf("create mirror dir: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".init-*")
	if err != nil {
		return fmt.Errorf("create mirror dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if _, err := m.run(ctx, runOpts{}, "init", "--bare", "--quiet", tmp); err != nil {
		return err
	}
	if _, err := m.run(ctx, runOpts{}, "--git-dir="+tmp, "config", "remote.origin.url", cloneURL); err != nil {
		return err
	}
	// Run automatic gc inside the fetch, under the repo lock, rather than as
	// a detached process racing the next fetch or a Close.
	if _, err := m.run(ctx, runOpts{}, "--git-dir="+tmp, "config", "gc.autoDetach", "false"); err != nil {
		return err
	}
	if err := os.RemoveAll(mirror); err != nil {
		return fmt.Errorf("clear stale mirror: %w", err)
	}
	if err := os.Rename(tmp, mirror); err != nil {
		return fmt.Errorf("create mirror: %w", err)
	}
	m.log.InfoContext(ctx, "created mirror", "path", mirror)
	return nil
}

// maxErrOutput bounds how much of git's stderr goes into an error; git puts
// the reason last.
const maxErrOutput = 4096

type runOpts struct {
	env     []string // extra environment entries
	secrets []string // values to redact from error output
	stdin   []byte
}

// run executes git with a minimal environment and returns stdout. Host and
// user configuration are ignored so that a credential helper, url.insteadOf
// or similar on the host cannot leak into or alter a run.
func (m *Manager) run(ctx context.Context, o runOpts, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, m.git, args...)
	cmd.Dir = m.dir
	cmd.Env = append(m.baseEnv(), o.env...)
	// git-remote-https may outlive a killed git; don't wait on its pipes forever.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedWriter{buf: &stderr, max: 1 << 20}
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("git %s: %w", gitVerb(args), ctxErr)
		}
		// Redact before trimming so a secret is never cut into an unrecognisable piece.
		msg := strings.TrimSpace(redact(stderr.String(), o.secrets))
		if len(msg) > maxErrOutput {
			msg = "..." + msg[len(msg)-maxErrOutput:]
		}
		if msg == "" {
			return nil, fmt.Errorf("git %s: %w", gitVerb(args), err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", gitVerb(args), err, msg)
	}
	return stdout.Bytes(), nil
}

func (m *Manager) baseEnv() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + m.dir,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		// A transfer slower than 1 KB/s for a minute is abandoned rather
		// than holding the repository's lock, and every job behind it, forever.
		"GIT_HTTP_LOW_SPEED_LIMIT=1000",
		"GIT_HTTP_LOW_SPEED_TIME=60",
	}
	// Network plumbing the host may legitimately need to reach the forge.
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// gitVerb names the subcommand for error messages, skipping global options.
func gitVerb(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// redact removes secrets from git output. git never echoes the header, but
// a proxy or verbose curl error could; this is defence in depth.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

type limitedWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		if len(p) > room {
			w.buf.Write(p[:room])
		} else {
			w.buf.Write(p)
		}
	}
	return len(p), nil
}
