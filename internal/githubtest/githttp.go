package githubtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cgi"
	"strconv"
	"strings"
)

// maxGitRequest bounds a buffered upload-pack request body.
const maxGitRequest = 64 << 20

// serveGit serves fetches over git smart HTTP through `git http-backend`,
// with GitHub's auth: basic auth as x-access-token with an installation
// token that reaches the repository. Pushes are refused.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 || !strings.HasSuffix(parts[1], ".git") {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	owner, name, rest := parts[0], strings.TrimSuffix(parts[1], ".git"), parts[2]
	repo := s.lookupRepo(owner, name)

	unauthorized := func() {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "Invalid username or token. Password authentication is not supported for Git operations.\n")
	}
	user, token, ok := r.BasicAuth()
	if !ok || user != "x-access-token" {
		unauthorized()
		return
	}
	if status, _ := s.authorize(token, repo, contentsRead); status != 0 {
		unauthorized()
		return
	}

	push := rest == "git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack"
	if push {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "Write access to repository not granted.\n")
		return
	}
	switch {
	case rest == "info/refs" && r.Method == http.MethodGet && r.URL.Query().Get("service") == "git-upload-pack":
	case rest == "git-upload-pack" && r.Method == http.MethodPost:
	default:
		// GitHub speaks only the smart protocol.
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}

	req := r.Clone(r.Context())
	// The token must not reach the CGI environment (HTTP_AUTHORIZATION).
	req.Header.Del("Authorization")
	req.URL.Path = "/" + repo.owner + "/" + repo.name + ".git/" + rest
	if len(req.TransferEncoding) > 0 {
		// net/http/cgi refuses chunked bodies, which git sends for large
		// negotiations; buffer them into a sized body instead.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxGitRequest+1))
		if err != nil || len(body) > maxGitRequest {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.TransferEncoding = nil
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	var stderr bytes.Buffer
	h := &cgi.Handler{
		Path: s.gitPath,
		Args: []string{"http-backend"},
		Root: "/",
		Dir:  s.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + s.home,
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"REMOTE_USER=x-access-token",
		},
		Stderr: &stderr,
	}
	h.ServeHTTP(w, req)
	if stderr.Len() > 0 {
		s.tb.Logf("githubtest: git http-backend %s %s: %s", r.Method, r.URL.Path, strings.TrimSpace(stderr.String()))
	}
}
