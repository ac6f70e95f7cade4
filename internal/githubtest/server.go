// Package githubtest is a fake GitHub (Enterprise Server URL layout) for
// tfpr's end-to-end tests. It serves the REST endpoints tfpr calls, the
// App JWT -> installation token exchange, and git smart HTTP for fetches,
// and it enforces GitHub's authentication rules and size limits so that a
// test fails where real GitHub would refuse the same request.
package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Options configures a fake GitHub.
type Options struct {
	// AppID is the GitHub App's ID; the JWT's iss claim must match it.
	// Zero means 4242.
	AppID int64
	// AppSlug names the App's bot user "<slug>[bot]", which authors the
	// comments and issues created through the API. Empty means "tfpr".
	AppSlug string
	// Permissions the App holds on every installation. A token request
	// asking for more is refused with 422, as GitHub does. Nil means
	// checks, issues and pull_requests write; contents and metadata read.
	Permissions map[string]string
}

// Server is a running fake GitHub. All methods are safe for concurrent use.
type Server struct {
	tb       testing.TB
	srv      *httptest.Server
	api      *http.ServeMux
	appID    int64
	appSlug  string
	appPerms map[string]string
	key      *rsa.PrivateKey
	keyPEM   []byte
	gitPath  string
	root     string // GIT_PROJECT_ROOT: <root>/<owner>/<name>.git
	home     string // HOME for every git process, so the host's config stays out
	scratch  string // parent of the short-lived work trees

	mu       sync.Mutex
	repos    map[string]*Repo // key: lower-case "owner/name", as GitHub is case-insensitive
	tokens   map[string]*grant
	grants   []*grant // issue order, for Tokens
	requests []Request
	nextID   int64
}

// Request is one HTTP request the fake answered.
type Request struct {
	Method, Path string
	Status       int
}

// New starts a fake GitHub that is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("githubtest: git is required: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("githubtest: generate App key: %v", err)
	}
	base := t.TempDir()
	s := &Server{
		tb:       t,
		appID:    opts.AppID,
		appSlug:  opts.AppSlug,
		appPerms: defaultPermissions(),
		key:      key,
		keyPEM:   pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		gitPath:  gitPath,
		root:     filepath.Join(base, "repos"),
		home:     filepath.Join(base, "home"),
		scratch:  filepath.Join(base, "scratch"),
		repos:    map[string]*Repo{},
		tokens:   map[string]*grant{},
		nextID:   1000,
	}
	if s.appID == 0 {
		s.appID = 4242
	}
	if s.appSlug == "" {
		s.appSlug = "tfpr"
	}
	if opts.Permissions != nil {
		s.appPerms = map[string]string{}
		for k, v := range opts.Permissions {
			s.appPerms[k] = v
		}
	}
	for _, dir := range []string{s.root, s.home, s.scratch} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("githubtest: create %s: %v", dir, err)
		}
	}
	s.api = s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

func defaultPermissions() map[string]string {
	return map[string]string{
		"checks":        "write",
		"contents":      "read",
		"issues":        "write",
		"metadata":      "read",
		"pull_requests": "write",
	}
}

// URL is the server root, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the REST base URL for go-github's WithEnterpriseURLs.
func (s *Server) APIURL() string { return s.srv.URL + "/api/v3/" }

// AppID is the App's ID, the iss of a valid JWT.
func (s *Server) AppID() int64 { return s.appID }

// PrivateKeyPEM is the App's RSA key, PKCS#1 PEM encoded.
func (s *Server) PrivateKeyPEM() []byte { return slices.Clone(s.keyPEM) }

// WritePrivateKey writes the App key to dir with mode 0600 and returns its path.
func (s *Server) WritePrivateKey(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "github-app.pem")
	if err := os.WriteFile(path, s.keyPEM, 0o600); err != nil {
		t.Fatalf("githubtest: write App key to %s: %v", path, err)
	}
	return path
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) newID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// statusRecorder remembers the status code for Requests.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	if strings.HasPrefix(r.URL.Path, "/api/v3/") {
		// GitHub caps request bodies; a runaway client should fail here
		// rather than exhaust the test's memory.
		r.Body = http.MaxBytesReader(rec, r.Body, 25<<20)
		s.api.ServeHTTP(rec, r)
	} else {
		s.serveGit(rec, r)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status})
	s.mu.Unlock()
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/v3/app/installations/{id}/access_tokens", s.handleAccessToken)
	m.HandleFunc("GET /api/v3/app", s.handleApp)
	m.HandleFunc("GET /api/v3/app/installations", s.handleListInstallations)
	m.HandleFunc("GET /api/v3/installation/repositories", s.handleListInstallationRepos)
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/installation", s.handleRepoInstallation)

	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}", s.repoRoute(metadataRead, s.handleGetRepo))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/collaborators/{user}/permission", s.repoRoute(metadataRead, s.handlePermission))

	m.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/{number}/comments", s.repoRoute(commentWrite, s.handleCreateComment))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues/{number}/comments", s.repoRoute(commentRead, s.handleListComments))
	m.HandleFunc("PATCH /api/v3/repos/{owner}/{repo}/issues/comments/{id}", s.repoRoute(commentWrite, s.handleEditComment))
	m.HandleFunc("DELETE /api/v3/repos/{owner}/{repo}/issues/comments/{id}", s.repoRoute(commentWrite, s.handleDeleteComment))

	m.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues", s.repoRoute(issuesWrite, s.handleCreateIssue))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues", s.repoRoute(issuesRead, s.handleListIssues))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues/{number}", s.repoRoute(issuesRead, s.handleGetIssue))
	m.HandleFunc("PATCH /api/v3/repos/{owner}/{repo}/issues/{number}", s.repoRoute(commentWrite, s.handleEditIssue))
	m.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/{number}/labels", s.repoRoute(commentWrite, s.handleAddLabels))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues/{number}/labels", s.repoRoute(commentRead, s.handleIssueLabels))
	m.HandleFunc("DELETE /api/v3/repos/{owner}/{repo}/issues/{number}/labels/{name}", s.repoRoute(commentWrite, s.handleRemoveLabel))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/labels/{name}", s.repoRoute(metadataRead, s.handleGetLabel))
	m.HandleFunc("POST /api/v3/repos/{owner}/{repo}/labels", s.repoRoute(commentWrite, s.handleCreateLabel))
	m.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/comments/{id}/reactions", s.repoRoute(commentWrite, s.handleReaction))

	m.HandleFunc("POST /api/v3/repos/{owner}/{repo}/check-runs", s.repoRoute(checksWrite, s.handleCreateCheckRun))
	m.HandleFunc("PATCH /api/v3/repos/{owner}/{repo}/check-runs/{id}", s.repoRoute(checksWrite, s.handleUpdateCheckRun))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/check-runs/{id}", s.repoRoute(checksRead, s.handleGetCheckRun))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/check-runs/{id}/annotations", s.repoRoute(checksRead, s.handleListAnnotations))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/commits/{ref}/check-runs", s.repoRoute(checksRead, s.handleListCheckRuns))

	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/pulls", s.repoRoute(pullsRead, s.handleListPulls))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/pulls/{number}", s.repoRoute(pullsRead, s.handleGetPull))
	m.HandleFunc("GET /api/v3/repos/{owner}/{repo}/commits/{sha}/pulls", s.repoRoute(commitPullsRead, s.handleCommitPulls))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found")
	})
	return m
}

// apiError is GitHub's error body; go-github decodes it into ErrorResponse.
type apiError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Message  string `json:"message,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("githubtest: encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{
		Message:          msg,
		DocumentationURL: "https://docs.github.com/enterprise-server/rest",
		Status:           strconv.Itoa(status),
	})
}

// writeValidation answers 422 the way GitHub reports a rejected field.
func writeValidation(w http.ResponseWriter, resource, field, code, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, apiError{
		Message:          "Validation Failed",
		Errors:           []fieldError{{Resource: resource, Code: code, Field: field, Message: msg}},
		DocumentationURL: "https://docs.github.com/enterprise-server/rest",
		Status:           "422",
	})
}

// decodeJSON reads a request body. An empty body decodes to the zero value,
// as GitHub treats a missing body like {}.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// paginate slices items like GitHub's page/per_page and sets the Link header
// go-github reads NextPage and LastPage from.
func paginate[T any](s *Server, w http.ResponseWriter, r *http.Request, items []T) []T {
	q := r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s%s>; rel=%q", s.URL(), u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(min(page-1, last), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * perPage
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+perPage, len(items))]
}

func pathInt(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}
