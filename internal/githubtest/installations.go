package githubtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"
)

// handleListInstallations serves GET /app/installations (App JWT), one page
// as GitHub pages it.
func (s *Server) handleListInstallations(w http.ResponseWriter, r *http.Request) {
	if !s.requireAppJWT(w, r) {
		return
	}
	s.mu.Lock()
	var ids []int64
	owners := map[int64]string{}
	for _, rp := range s.repos {
		if !slices.Contains(ids, rp.installationID) {
			ids = append(ids, rp.installationID)
			owners[rp.installationID] = rp.owner
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	var out []*github.Installation
	for _, id := range page(r, ids) {
		out = append(out, &github.Installation{
			ID: github.Ptr(id), AppID: github.Ptr(s.appID), AppSlug: github.Ptr(s.appSlug),
			Account: &github.User{Login: github.Ptr(owners[id])}, RepositorySelection: github.Ptr("selected"),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListInstallationRepos serves GET /installation/repositories: the
// repositories an installation token reaches.
func (s *Server) handleListInstallationRepos(w http.ResponseWriter, r *http.Request) {
	_, token := bearer(r)
	s.mu.Lock()
	g := s.tokens[token]
	var repos []*Repo
	if g != nil {
		for _, rp := range s.installationRepos(g.InstallationID) {
			if g.Repositories == nil || slices.ContainsFunc(g.Repositories, func(n string) bool { return strings.EqualFold(n, rp.name) }) {
				repos = append(repos, rp)
			}
		}
	}
	s.mu.Unlock()
	if g == nil || time.Now().After(g.expires) {
		writeError(w, http.StatusUnauthorized, msgBadCreds)
		return
	}
	var list []*github.Repository
	for _, rp := range page(r, repos) {
		list = append(list, rp.apiRepo())
	}
	writeJSON(w, http.StatusOK, &github.ListRepositories{TotalCount: github.Ptr(len(repos)), Repositories: list})
}

// page returns the page of items that per_page and page ask for (GitHub's
// defaults: 30 per page, first page).
func page[T any](r *http.Request, items []T) []T {
	per, err := strconv.Atoi(r.URL.Query().Get("per_page"))
	if err != nil || per <= 0 || per > 100 {
		per = 30
	}
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n <= 0 {
		n = 1
	}
	start := min((n-1)*per, len(items))
	return items[start:min(start+per, len(items))]
}
