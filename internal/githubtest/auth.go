package githubtest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v88/github"
)

// TokenGrant is one installation token the fake issued.
type TokenGrant struct {
	Token          string
	InstallationID int64
	// Repositories are the repository names the token was limited to; nil
	// when the request named none and the token reaches every repository
	// of the installation.
	Repositories []string
	Permissions  map[string]string
}

type grant struct {
	TokenGrant
	expires time.Time
}

// Tokens returns every installation token issued so far, oldest first.
func (s *Server) Tokens() []TokenGrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TokenGrant, 0, len(s.grants))
	for _, g := range s.grants {
		tg := g.TokenGrant
		tg.Repositories = slices.Clone(tg.Repositories)
		tg.Permissions = maps.Clone(tg.Permissions)
		out = append(out, tg)
	}
	return out
}

// GitHub's own error messages, so a failing test reads like production.
const (
	msgJWTDecode = "A JSON web token could not be decoded"
	msgBadCreds  = "Bad credentials"
	msgNoAuth    = "Requires authentication"
	msgForbidden = "Resource not accessible by integration"
)

// maxJWTLifetime is GitHub's limit on exp-iat for App JWTs.
const maxJWTLifetime = 10 * time.Minute

// verifyAppJWT checks an App JWT as GitHub does: RS256 with the App key,
// integer iat and exp, not expired, lifetime at most ten minutes, iss the
// App ID.
func (s *Server) verifyAppJWT(raw string) error {
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithJSONNumber(), jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil }); err != nil {
		return errors.New(msgJWTDecode)
	}
	iat, ok := intClaim(claims["iat"])
	if !ok {
		return errors.New("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	exp, ok := intClaim(claims["exp"])
	if !ok {
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	now := time.Now().Unix()
	switch {
	case exp <= now:
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case iat > now+60:
		return errors.New("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	case exp-iat > int64(maxJWTLifetime/time.Second):
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	}
	// ghinstallation sends iss as a string; GitHub accepts a number too.
	var iss int64
	switch v := claims["iss"].(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("'Issuer' claim ('iss') must be an Integer")
		}
		iss = n
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return errors.New("'Issuer' claim ('iss') must be an Integer")
		}
		iss = n
	default:
		return errors.New("'Issuer' claim ('iss') must be an Integer")
	}
	if iss != s.appID {
		return errors.New("Integration not found")
	}
	return nil
}

// intClaim accepts only integral numbers: GitHub rejects fractional
// timestamps.
func intClaim(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func bearer(r *http.Request) (scheme, cred string) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return "", ""
	}
	return strings.ToLower(scheme), strings.TrimSpace(cred)
}

func (s *Server) requireAppJWT(w http.ResponseWriter, r *http.Request) bool {
	scheme, cred := bearer(r)
	if scheme != "bearer" || cred == "" {
		writeError(w, http.StatusUnauthorized, msgNoAuth)
		return false
	}
	if err := s.verifyAppJWT(cred); err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return false
	}
	return true
}

func (s *Server) installationRepos(id int64) []*Repo {
	var out []*Repo
	for _, r := range s.repos {
		if r.installationID == id {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Repo) int { return strings.Compare(a.FullName(), b.FullName()) })
	return out
}

func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	if !s.requireAppJWT(w, r) {
		return
	}
	instID, ok := pathInt(r, "id")
	s.mu.Lock()
	repos := s.installationRepos(instID)
	s.mu.Unlock()
	if !ok || len(repos) == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}

	var names []string
	var selected []*Repo
	for _, name := range req.Repositories {
		i := slices.IndexFunc(repos, func(rp *Repo) bool { return strings.EqualFold(rp.name, name) })
		if i < 0 {
			writeValidation(w, "Installation", "repositories", "invalid", "There is at least one repository that does not exist or is not accessible to the parent installation.")
			return
		}
		names = append(names, repos[i].name)
		selected = append(selected, repos[i])
	}
	for _, id := range req.RepositoryIDs {
		i := slices.IndexFunc(repos, func(rp *Repo) bool { return rp.id == id })
		if i < 0 {
			writeValidation(w, "Installation", "repository_ids", "invalid", "There is at least one repository that does not exist or is not accessible to the parent installation.")
			return
		}
		names = append(names, repos[i].name)
		selected = append(selected, repos[i])
	}

	perms := maps.Clone(s.appPerms)
	if len(req.Permissions) > 0 {
		perms = map[string]string{}
		for k, v := range req.Permissions {
			if permLevel(v) == 0 || permLevel(v) > permLevel(s.appPerms[k]) {
				writeValidation(w, "Installation", "permissions", "invalid", "The permissions requested are not granted to this installation.")
				return
			}
			perms[k] = v
		}
	}

	g := &grant{
		TokenGrant: TokenGrant{Token: "ghs_" + randomAlnum(36), InstallationID: instID, Repositories: names, Permissions: perms},
		expires:    time.Now().Add(time.Hour),
	}
	s.mu.Lock()
	s.tokens[g.Token] = g
	s.grants = append(s.grants, g)
	s.mu.Unlock()

	resp := struct {
		Token               string               `json:"token"`
		ExpiresAt           string               `json:"expires_at"`
		Permissions         map[string]string    `json:"permissions"`
		RepositorySelection string               `json:"repository_selection"`
		Repositories        []*github.Repository `json:"repositories,omitempty"`
	}{
		Token:               g.Token,
		ExpiresAt:           g.expires.UTC().Format(time.RFC3339),
		Permissions:         perms,
		RepositorySelection: "all",
	}
	if len(selected) > 0 {
		resp.RepositorySelection = "selected"
		for _, rp := range selected {
			resp.Repositories = append(resp.Repositories, rp.apiRepo())
		}
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) handleApp(w http.ResponseWriter, r *http.Request) {
	if !s.requireAppJWT(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, &github.App{
		ID:   github.Ptr(s.appID),
		Slug: github.Ptr(s.appSlug),
		Name: github.Ptr(s.appSlug),
	})
}

func (s *Server) handleRepoInstallation(w http.ResponseWriter, r *http.Request) {
	if !s.requireAppJWT(w, r) {
		return
	}
	repo := s.lookupRepo(r.PathValue("owner"), r.PathValue("repo"))
	if repo == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, &github.Installation{
		ID:      github.Ptr(repo.installationID),
		AppID:   github.Ptr(s.appID),
		AppSlug: github.Ptr(s.appSlug),
		Account: &github.User{Login: github.Ptr(repo.owner)},
	})
}

func (s *Server) lookupRepo(owner, name string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[strings.ToLower(owner+"/"+name)]
}

// need lists alternative permissions as "name:level" words, any one of
// which allows a route; the empty need is metadata:read, which every
// installation token carries.
type need string

const (
	metadataRead    need = ""
	commentRead     need = "issues:read pull_requests:read"
	commentWrite    need = "issues:write pull_requests:write"
	issuesRead      need = "issues:read"
	issuesWrite     need = "issues:write"
	checksRead      need = "checks:read"
	checksWrite     need = "checks:write"
	pullsRead       need = "pull_requests:read"
	commitPullsRead need = "pull_requests:read contents:read"
	contentsRead    need = "contents:read"
)

func (n need) allows(perms map[string]string) bool {
	if n == metadataRead {
		return true
	}
	for _, word := range strings.Fields(string(n)) {
		name, level, _ := strings.Cut(word, ":")
		if permLevel(perms[name]) >= permLevel(level) {
			return true
		}
	}
	return false
}

func permLevel(p string) int {
	switch p {
	case "read":
		return 1
	case "write":
		return 2
	case "admin":
		return 3
	}
	return 0
}

// authorize finds the grant behind an installation token and checks it may
// reach repo with the needed permission. It returns the HTTP status GitHub
// would answer with when it may not: 401 for a missing, unknown or expired
// token, 404 for a repository outside the grant (GitHub hides private
// repositories), 403 for a missing permission.
func (s *Server) authorize(token string, repo *Repo, n need) (int, string) {
	if token == "" {
		return http.StatusUnauthorized, msgNoAuth
	}
	s.mu.Lock()
	g := s.tokens[token]
	s.mu.Unlock()
	if g == nil || time.Now().After(g.expires) {
		return http.StatusUnauthorized, msgBadCreds
	}
	if repo == nil || repo.installationID != g.InstallationID {
		return http.StatusNotFound, "Not Found"
	}
	if g.Repositories != nil && !slices.ContainsFunc(g.Repositories, func(n string) bool { return strings.EqualFold(n, repo.name) }) {
		return http.StatusNotFound, "Not Found"
	}
	if !n.allows(g.Permissions) {
		return http.StatusForbidden, msgForbidden
	}
	return 0, ""
}

// repoRoute wraps a /repos/{owner}/{repo} handler with token auth.
func (s *Server) repoRoute(n need, h func(http.ResponseWriter, *http.Request, *Repo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, cred := bearer(r)
		if scheme != "token" && scheme != "bearer" {
			cred = ""
		}
		repo := s.lookupRepo(r.PathValue("owner"), r.PathValue("repo"))
		if status, msg := s.authorize(cred, repo, n); status != 0 {
			writeError(w, status, msg)
			return
		}
		h(w, r, repo)
	}
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("githubtest: read random bytes: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
