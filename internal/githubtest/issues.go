package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v88/github"
)

// maxBodyChars is GitHub's limit on issue and comment bodies.
const maxBodyChars = 65536

// Comment is an issue or pull request comment the fake holds.
type Comment struct {
	ID     int64
	Number int
	Body   string
	User   string
}

type commentState struct {
	Comment
	createdAt, updatedAt time.Time
}

// Issue is an issue the fake holds, with its comments.
type Issue struct {
	Number             int
	Title, Body, State string
	Labels             []string
	Comments           []Comment
}

type issueState struct {
	id                              int64
	number                          int
	title, body, state, stateReason string
	user                            string
	labels                          []string
	createdAt, updatedAt, closedAt  time.Time
}

// Comments returns the comments on issue or pull request number, oldest
// first.
func (r *Repo) Comments(number int) []Comment {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.commentsLocked(number)
}

func (r *Repo) commentsLocked(number int) []Comment {
	var out []Comment
	for _, c := range r.comments {
		if c.Number == number {
			out = append(out, c.Comment)
		}
	}
	return out
}

// Issues returns every issue (not pull request), by number.
func (r *Repo) Issues() []Issue {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []Issue
	for _, is := range sortedByNumber(r.issues) {
		out = append(out, Issue{
			Number:   is.number,
			Title:    is.title,
			Body:     is.body,
			State:    is.state,
			Labels:   slices.Clone(is.labels),
			Comments: r.commentsLocked(is.number),
		})
	}
	return out
}

// checkBody enforces GitHub's body rules and writes the 422 when they fail.
func checkBody(w http.ResponseWriter, resource string, body *string, required bool) bool {
	if body == nil || *body == "" {
		if required {
			writeValidation(w, resource, "body", "missing_field", "")
			return false
		}
		return true
	}
	if utf8.RuneCountInString(*body) > maxBodyChars {
		writeValidation(w, resource, "body", "custom", fmt.Sprintf("body is too long (maximum is %d characters)", maxBodyChars))
		return false
	}
	return true
}

func (r *Repo) apiComment(c *commentState) *github.IssueComment {
	return &github.IssueComment{
		ID:        github.Ptr(c.ID),
		NodeID:    github.Ptr(fmt.Sprintf("IC_%d", c.ID)),
		Body:      github.Ptr(c.Body),
		User:      r.s.apiUser(c.User),
		CreatedAt: &github.Timestamp{Time: c.createdAt},
		UpdatedAt: &github.Timestamp{Time: c.updatedAt},
		URL:       github.Ptr(fmt.Sprintf("%s/issues/comments/%d", r.apiURL(), c.ID)),
		HTMLURL:   github.Ptr(fmt.Sprintf("%s/pull/%d#issuecomment-%d", r.htmlURL(), c.Number, c.ID)),
		IssueURL:  github.Ptr(fmt.Sprintf("%s/issues/%d", r.apiURL(), c.Number)),
	}
}

// commentBody decodes and validates a comment request like GitHub does.
func commentBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return "", false
	}
	if !checkBody(w, "IssueComment", req.Body, true) {
		return "", false
	}
	return *req.Body, true
}

func (s *Server) handleCreateComment(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	id := s.newID()
	now := time.Now()
	s.mu.Lock()
	if !repo.numberTaken(int(number)) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	c := &commentState{Comment: Comment{ID: id, Number: int(number), Body: body, User: s.botLogin()}, createdAt: now, updatedAt: now}
	repo.comments = append(repo.comments, c)
	resp := repo.apiComment(c)
	s.mu.Unlock()
	w.Header().Set("Location", resp.GetURL())
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	s.mu.Lock()
	if !repo.numberTaken(int(number)) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	// GitHub's since filters on the last update, not creation.
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.mu.Unlock()
			writeValidation(w, "IssueComment", "since", "invalid", "since must be an ISO 8601 timestamp")
			return
		}
		since = t
	}
	var all []*github.IssueComment
	for _, c := range repo.comments {
		if c.Number == int(number) && !c.updatedAt.Before(since) {
			all = append(all, repo.apiComment(c))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(s, w, r, all))
}

// AddComment records a comment by user on pull request (or issue) number, as
// if they had written it on GitHub, and returns its ID. No webhook is sent:
// deliver CommentPayloadID for it, or leave it undelivered.
func (r *Repo) AddComment(t testing.TB, number int, user, body string) int64 {
	t.Helper()
	id, now := r.s.newID(), time.Now()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if !r.numberTaken(number) {
		t.Fatalf("githubtest: AddComment: %s has no pull request or issue #%d", r.FullName(), number)
	}
	r.comments = append(r.comments, &commentState{Comment: Comment{ID: id, Number: number, Body: body, User: user}, createdAt: now, updatedAt: now})
	return id
}

// AddIssue records an issue opened by user, as if written on GitHub, and
// returns its number. No webhook is sent.
func (r *Repo) AddIssue(t testing.TB, user, title, body string, labels ...string) int {
	t.Helper()
	id, now := r.s.newID(), time.Now()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	is := &issueState{id: id, title: title, body: body, state: "open", user: user, labels: addLabels(nil, labels), createdAt: now, updatedAt: now}
	is.number = r.nextNumber()
	r.issues[is.number] = is
	return is.number
}

func (s *Server) handleEditComment(w http.ResponseWriter, r *http.Request, repo *Repo) {
	id, _ := pathInt(r, "id")
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(repo.comments, func(c *commentState) bool { return c.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	c := repo.comments[i]
	c.Body, c.updatedAt = body, time.Now()
	writeJSON(w, http.StatusOK, repo.apiComment(c))
}

func (s *Server) handleDeleteComment(w http.ResponseWriter, r *http.Request, repo *Repo) {
	id, _ := pathInt(r, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(repo.comments, func(c *commentState) bool { return c.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	repo.comments = slices.Delete(repo.comments, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

func (r *Repo) apiLabels(names []string) []*github.Label {
	out := []*github.Label{}
	for _, n := range names {
		l, ok := r.labels[strings.ToLower(n)]
		if !ok {
			l = Label{Name: n, Color: defaultLabelColor}
		}
		out = append(out, r.apiLabel(l))
	}
	return out
}

// apiIssue renders an issue; callers hold s.mu.
func (r *Repo) apiIssue(is *issueState) *github.Issue {
	out := &github.Issue{
		ID:        github.Ptr(is.id),
		NodeID:    github.Ptr(fmt.Sprintf("I_%d", is.id)),
		Number:    github.Ptr(is.number),
		Title:     github.Ptr(is.title),
		Body:      github.Ptr(is.body),
		State:     github.Ptr(is.state),
		User:      r.s.apiUser(is.user),
		Labels:    r.apiLabels(is.labels),
		Comments:  github.Ptr(len(r.commentsLocked(is.number))),
		CreatedAt: &github.Timestamp{Time: is.createdAt},
		UpdatedAt: &github.Timestamp{Time: is.updatedAt},
		URL:       github.Ptr(fmt.Sprintf("%s/issues/%d", r.apiURL(), is.number)),
		HTMLURL:   github.Ptr(fmt.Sprintf("%s/issues/%d", r.htmlURL(), is.number)),
	}
	if is.stateReason != "" {
		out.StateReason = github.Ptr(is.stateReason)
	}
	if !is.closedAt.IsZero() {
		out.ClosedAt = &github.Timestamp{Time: is.closedAt}
	}
	return out
}

// apiPRIssue renders a pull request the way the issues API shows it, with
// the pull_request key that tells the two apart; callers hold s.mu.
func (r *Repo) apiPRIssue(pr *prState) *github.Issue {
	out := &github.Issue{
		ID:        github.Ptr(pr.id),
		Number:    github.Ptr(pr.Number),
		Title:     github.Ptr(pr.title),
		Body:      github.Ptr(pr.body),
		State:     github.Ptr(pr.State),
		User:      r.s.apiUser(pr.Author),
		Labels:    r.apiLabels(pr.labels),
		Comments:  github.Ptr(len(r.commentsLocked(pr.Number))),
		CreatedAt: &github.Timestamp{Time: pr.createdAt},
		URL:       github.Ptr(fmt.Sprintf("%s/issues/%d", r.apiURL(), pr.Number)),
		HTMLURL:   github.Ptr(fmt.Sprintf("%s/pull/%d", r.htmlURL(), pr.Number)),
		PullRequestLinks: &github.PullRequestLinks{
			URL:     github.Ptr(fmt.Sprintf("%s/pulls/%d", r.apiURL(), pr.Number)),
			HTMLURL: github.Ptr(fmt.Sprintf("%s/pull/%d", r.htmlURL(), pr.Number)),
		},
	}
	if !pr.closedAt.IsZero() {
		out.ClosedAt = &github.Timestamp{Time: pr.closedAt}
	}
	return out
}

func (s *Server) handleCreateIssue(w http.ResponseWriter, r *http.Request, repo *Repo) {
	var req github.IssueRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		writeValidation(w, "Issue", "title", "missing_field", "")
		return
	}
	if !checkBody(w, "Issue", req.Body, false) {
		return
	}
	id := s.newID()
	now := time.Now()
	is := &issueState{id: id, title: *req.Title, body: req.GetBody(), state: "open", user: s.botLogin(), createdAt: now, updatedAt: now}
	if req.Labels != nil {
		is.labels = addLabels(nil, *req.Labels)
	}
	s.mu.Lock()
	is.number = repo.nextNumber()
	repo.issues[is.number] = is
	resp := repo.apiIssue(is)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) handleGetIssue(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	s.mu.Lock()
	defer s.mu.Unlock()
	if is, ok := repo.issues[int(number)]; ok {
		writeJSON(w, http.StatusOK, repo.apiIssue(is))
		return
	}
	if pr, ok := repo.prs[int(number)]; ok {
		writeJSON(w, http.StatusOK, repo.apiPRIssue(pr))
		return
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

// handleListIssues lists like GitHub: newest first, pull requests included
// (a caller must skip entries with pull_request), every label in labels
// required.
func (s *Server) handleListIssues(w http.ResponseWriter, r *http.Request, repo *Repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		writeValidation(w, "Issue", "state", "invalid", "state must be one of open, closed, all")
		return
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		for _, name := range strings.Split(l, ",") {
			want = append(want, strings.TrimSpace(name))
		}
	}
	matches := func(st string, labels []string) bool {
		if state != "all" && st != state {
			return false
		}
		for _, name := range want {
			if !slices.ContainsFunc(labels, func(l string) bool { return strings.EqualFold(l, name) }) {
				return false
			}
		}
		return true
	}
	s.mu.Lock()
	var all []*github.Issue
	for n := repo.nextNumber() - 1; n > 0; n-- {
		if is, ok := repo.issues[n]; ok && matches(is.state, is.labels) {
			all = append(all, repo.apiIssue(is))
		}
		if pr, ok := repo.prs[n]; ok && matches(pr.State, pr.labels) {
			all = append(all, repo.apiPRIssue(pr))
		}
	}
	s.mu.Unlock()
	if all == nil {
		all = []*github.Issue{}
	}
	writeJSON(w, http.StatusOK, paginate(s, w, r, all))
}

func (s *Server) handleEditIssue(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	var req github.IssueRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if req.Title != nil && strings.TrimSpace(*req.Title) == "" {
		writeValidation(w, "Issue", "title", "missing_field", "")
		return
	}
	if !checkBody(w, "Issue", req.Body, false) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		writeValidation(w, "Issue", "state", "invalid", "state must be open or closed")
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if is, ok := repo.issues[int(number)]; ok {
		if req.Title != nil {
			is.title = *req.Title
		}
		if req.Body != nil {
			is.body = *req.Body
		}
		if req.Labels != nil {
			is.labels = addLabels(nil, *req.Labels)
		}
		if req.State != nil && *req.State != is.state {
			is.state = *req.State
			is.closedAt, is.stateReason = time.Time{}, ""
			if is.state == "closed" {
				is.closedAt, is.stateReason = now, "completed"
				if req.StateReason != nil {
					is.stateReason = *req.StateReason
				}
			}
		}
		is.updatedAt = now
		writeJSON(w, http.StatusOK, repo.apiIssue(is))
		return
	}
	pr, ok := repo.prs[int(number)]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if req.Title != nil {
		pr.title = *req.Title
	}
	if req.Body != nil {
		pr.body = *req.Body
	}
	if req.Labels != nil {
		pr.labels = addLabels(nil, *req.Labels)
	}
	if req.State != nil && !pr.Merged && *req.State != pr.State {
		pr.State = *req.State
		pr.closedAt = time.Time{}
		if pr.State == "closed" {
			pr.closedAt = now
		}
	}
	writeJSON(w, http.StatusOK, repo.apiPRIssue(pr))
}

// handleAddLabels accepts both body shapes GitHub does: a bare array of
// names (what go-github sends) and {"labels": [...]}.
func (s *Server) handleAddLabels(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	var raw json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		var obj struct {
			Labels []string `json:"labels"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON")
			return
		}
		names = obj.Labels
	}
	if slices.Contains(names, "") {
		writeValidation(w, "Label", "name", "missing_field", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if repo.numberTaken(int(number)) {
		repo.autoCreateLabels(names)
	}
	if is, ok := repo.issues[int(number)]; ok {
		is.labels = addLabels(is.labels, names)
		writeJSON(w, http.StatusOK, repo.apiLabels(is.labels))
		return
	}
	if pr, ok := repo.prs[int(number)]; ok {
		pr.labels = addLabels(pr.labels, names)
		writeJSON(w, http.StatusOK, repo.apiLabels(pr.labels))
		return
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

// addLabels appends names not yet present, comparing case-insensitively
// like GitHub.
func addLabels(have, names []string) []string {
	out := slices.Clone(have)
	for _, n := range names {
		if !slices.ContainsFunc(out, func(l string) bool { return strings.EqualFold(l, n) }) {
			out = append(out, n)
		}
	}
	return out
}
