package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v88/github"
)

// apiPull renders a pull request; callers hold s.mu.
func (r *Repo) apiPull(pr *prState) *github.PullRequest {
	repo := r.apiRepo()
	out := &github.PullRequest{
		ID:        github.Ptr(pr.id),
		NodeID:    github.Ptr(fmt.Sprintf("PR_%d", pr.id)),
		Number:    github.Ptr(pr.Number),
		State:     github.Ptr(pr.State),
		Title:     github.Ptr(pr.title),
		Body:      github.Ptr(pr.body),
		User:      r.s.apiUser(pr.Author),
		Draft:     github.Ptr(false),
		Merged:    github.Ptr(pr.Merged),
		Labels:    r.apiLabels(pr.labels),
		CreatedAt: &github.Timestamp{Time: pr.createdAt},
		URL:       github.Ptr(fmt.Sprintf("%s/pulls/%d", r.apiURL(), pr.Number)),
		HTMLURL:   github.Ptr(fmt.Sprintf("%s/pull/%d", r.htmlURL(), pr.Number)),
		IssueURL:  github.Ptr(fmt.Sprintf("%s/issues/%d", r.apiURL(), pr.Number)),
		Head: &github.PullRequestBranch{
			Label: github.Ptr(r.owner + ":" + pr.HeadBranch),
			Ref:   github.Ptr(pr.HeadBranch),
			SHA:   github.Ptr(pr.HeadSHA),
			Repo:  repo,
			User:  r.s.apiUser(r.owner),
		},
		Base: &github.PullRequestBranch{
			Label: github.Ptr(r.owner + ":main"),
			Ref:   github.Ptr("main"),
			SHA:   github.Ptr(pr.BaseSHA),
			Repo:  repo,
			User:  r.s.apiUser(r.owner),
		},
	}
	if pr.MergeCommitSHA != "" {
		out.MergeCommitSHA = github.Ptr(pr.MergeCommitSHA)
	}
	if !pr.closedAt.IsZero() {
		out.ClosedAt = &github.Timestamp{Time: pr.closedAt}
	}
	if pr.Merged {
		out.MergedAt = &github.Timestamp{Time: pr.closedAt}
		out.MergedBy = r.s.apiUser(pr.mergedBy)
	}
	return out
}

func (s *Server) handleGetPull(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := repo.prs[int(number)]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, repo.apiPull(pr))
}

// handleListPulls lists newest first, with GitHub's state, head
// ("owner:branch") and base filters.
func (s *Server) handleListPulls(w http.ResponseWriter, r *http.Request, repo *Repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		writeValidation(w, "PullRequest", "state", "invalid", "state must be one of open, closed, all")
		return
	}
	head := q.Get("head")
	if _, branch, ok := strings.Cut(head, ":"); ok {
		head = branch
	}
	base := q.Get("base")
	s.mu.Lock()
	all := []*github.PullRequest{}
	prs := sortedByNumber(repo.prs)
	for i := len(prs) - 1; i >= 0; i-- {
		pr := prs[i]
		if (state != "all" && pr.State != state) || (head != "" && pr.HeadBranch != head) || (base != "" && base != "main") {
			continue
		}
		all = append(all, repo.apiPull(pr))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(s, w, r, all))
}

// handleCommitPulls answers which pull requests a commit belongs to: those
// it heads, the one it merged, and the one a rebase merge landed it for.
func (s *Server) handleCommitPulls(w http.ResponseWriter, r *http.Request, repo *Repo) {
	sha := strings.ToLower(r.PathValue("sha"))
	if _, ok := repo.resolveCommit(r.Context(), sha); !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+sha)
		return
	}
	s.mu.Lock()
	all := []*github.PullRequest{}
	for _, pr := range sortedByNumber(repo.prs) {
		if pr.MergeCommitSHA == sha || pr.HeadSHA == sha || slices.Contains(pr.landed, sha) {
			all = append(all, repo.apiPull(pr))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(s, w, r, all))
}

func (s *Server) handleGetRepo(w http.ResponseWriter, r *http.Request, repo *Repo) {
	writeJSON(w, http.StatusOK, repo.apiRepo())
}

// handlePermission answers the legacy permission (admin, write, read,
// none) and the role name, as GitHub does for maintain and triage.
func (s *Server) handlePermission(w http.ResponseWriter, r *http.Request, repo *Repo) {
	user := r.PathValue("user")
	s.mu.Lock()
	role, ok := repo.perms[strings.ToLower(user)]
	s.mu.Unlock()
	if !ok {
		role = "read"
	}
	perm := role
	switch role {
	case "maintain":
		perm = "write"
	case "triage":
		perm = "read"
	}
	out := &github.RepositoryPermissionLevel{
		Permission: github.Ptr(perm),
		User:       s.apiUser(user),
	}
	if role != "none" {
		out.RoleName = github.Ptr(role)
	}
	writeJSON(w, http.StatusOK, out)
}
