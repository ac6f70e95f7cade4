package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// gitHTTPServer serves the upstream through the real git http-backend and
// demands the installation-token basic auth GitHub uses. It also inspects
// every process's argv while a request is in flight, to prove the token
// never appears on a command line.
type gitHTTPServer struct {
	*httptest.Server
	mu           sync.Mutex
	leaks        []string
	unauthorized int
	requests     []string // method and path of every authorised request
	// answer, when set, answers a request in place of git http-backend
	// (returning true), as a server with other manners would.
	answer func(w http.ResponseWriter, r *http.Request) bool
}

// served returns the requests answered so far.
func (s *gitHTTPServer) served() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func newGitHTTPServer(t *testing.T, projectRoot, token string) *gitHTTPServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git-http-backend not available: %v", err)
	}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + projectRoot,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
		},
	}
	s := &gitHTTPServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.checkNoLeak(r, token)
		user, pass, ok := r.BasicAuth()
		if !ok || user != "x-access-token" || pass != token {
			s.mu.Lock()
			s.unauthorized++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		answer := s.answer
		s.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *gitHTTPServer) checkNoLeak(r *http.Request, token string) {
	needles := []string{token, base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))}
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, n := range needles {
		if strings.Contains(r.URL.String(), n) {
			found = append(found, "request URL "+r.URL.String())
		}
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(n)) {
				found = append(found, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
	}
	s.mu.Lock()
	s.leaks = append(s.leaks, found...)
	s.mu.Unlock()
}

func TestFetchOverHTTPWithTokenHeader(t *testing.T) {
	ctx := context.Background()
	const token = "ghs_TestToken0123456789abcdef"
	up := newUpstream(t)
	c1 := up.commit("one", map[string]string{"main.tf": "terraform {}\n"})
	srv := newGitHTTPServer(t, filepath.Dir(up.dir), token)
	repo := Repo{FullName: "acme/infra", CloneURL: srv.URL + "/" + filepath.Base(up.dir)}

	m, dir := newManager(t)
	refspec := "+refs/heads/main:refs/heads/main"

	cases := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"no token is refused", "", true},
		{"wrong token is refused", "ghs_wrong", true},
		{"right token fetches", token, false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Fetch(ctx, repo, tt.token, refspec)
			if tt.wantErr {
				if err == nil {
					t.Fatal("fetch succeeded without valid credentials")
				}
				if tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Fatalf("error leaks the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if !m.Has(ctx, repo, c1) {
		t.Fatal("authenticated fetch did not bring main")
	}
	if srv.unauthorized == 0 {
		t.Fatal("server never refused a request: auth check not exercised")
	}
	if len(srv.leaks) > 0 {
		t.Fatalf("token visible during fetch:\n%s", strings.Join(srv.leaks, "\n"))
	}

	// The token and the header derived from it must not be on disk anywhere.
	needles := []string{token, base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token)), "extraheader", "extraHeader"}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s contains %q", p, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no files under the data dir: nothing was checked")
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "mirrors", "acme", "infra.git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "url = "+repo.CloneURL+"\n") {
		t.Fatalf("mirror config does not hold the plain clone URL:\n%s", cfg)
	}
}
