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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
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
	// http asks for commit ids in one request (upload.go); its
	// connections are kept between fetches.
	http *http.Client

	mu    sync.Mutex
	state map[string]*mirrorState
}

// mirrorState is what this process knows of one mirror. The data directory
// belongs to one Manager, so it is the only writer.
type mirrorState struct {
	lock chan struct{} // held while the mirror is changed
	// swept is set once leftovers of a crashed process (lock files) are
	// removed; until then a fetch could fail on a stale ref lock.
	swept bool
	// fetches counts fetches since git's automatic maintenance last ran.
	fetches int
	// url is the clone URL remote.origin.url was last seen to hold.
	url string
}

// Option changes what New makes.
type Option func(*Manager) error

// WithCheckoutDir keeps checkouts under base instead of the data dir: a
// memory-backed filesystem (tmpfs) writes a 5,000-file tree several times
// faster than a disk, and checkouts live only as long as a job. They go in
// a subdirectory named after the data dir, so a Manager clearing its own
// leftovers at start never touches another's, or anything else in base.
func WithCheckoutDir(base string) Option {
	return func(m *Manager) error {
		abs, err := filepath.Abs(base)
		if err != nil {
			return fmt.Errorf("checkout dir %q: %w", base, err)
		}
		sum := sha256.Sum256([]byte(m.dir))
		m.checkouts = filepath.Join(abs, "tfpr-checkouts-"+hex.EncodeToString(sum[:6]))
		return nil
	}
}

// New prepares dir/mirrors and the checkouts dir (dir/checkouts unless an
// option says otherwise) and locates the git binary.
func New(dir string, log *slog.Logger, opts ...Option) (*Manager, error) {
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
		state:     map[string]*mirrorState{},
		http:      &http.Client{Transport: fetchTransport()},
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, fmt.Errorf("workspace: %w", err)
		}
	}
	for _, d := range []string{m.mirrors, m.checkouts} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("workspace: create %s: %w", d, err)
		}
	}
	if err := ownDir(m.checkouts); err != nil {
		return nil, fmt.Errorf("workspace: checkouts dir: %w", err)
	}
	return m, nil
}

// ownDir refuses a directory others could have prepared: tfpr writes
// every checkout there and deletes what it holds at start, so a symlink,
// or a directory of another user or open to every user (a shared tmpfs),
// would let them choose what is written or deleted. Group write stays
// allowed: Kubernetes' fsGroup grants it to tfpr's own group.
func ownDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink is refused)", dir)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("%s is writable by every user (mode %v)", dir, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to tfpr's uid %d", dir, st.Uid, os.Getuid())
	}
	return nil
}

// fetchTransport is the HTTP transport of one-request fetches: the
// default's proxies and TLS, and a server that accepts the request but
// never answers is given up on (the transfer itself has stallTimeout).
func fetchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = stallTimeout
	return t
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
// give up when its context ends. The returned state may be used until unlock.
func (m *Manager) lock(ctx context.Context, key string) (st *mirrorState, unlock func(), err error) {
	m.mu.Lock()
	st, ok := m.state[key]
	if !ok {
		st = &mirrorState{lock: make(chan struct{}, 1)}
		m.state[key] = st
	}
	m.mu.Unlock()
	select {
	case st.lock <- struct{}{}:
		return st, func() { <-st.lock }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
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

// maxErrOutput bounds how much of git's stderr goes into an error; git puts
// the reason last.
const maxErrOutput = 4096

type runOpts struct {
	env     []string // extra environment entries
	secrets []string // values to redact from error output
	stdin   []byte
	// stdinR streams stdin instead (stdin unset).
	stdinR io.Reader
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
	} else if o.stdinR != nil {
		cmd.Stdin = o.stdinR
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
