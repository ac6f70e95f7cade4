package githubtest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

// defaultLabelColor is what GitHub gives a label created by adding it to an
// issue without creating it first.
const defaultLabelColor = "ededed"

// Label is a repository label the fake holds.
type Label struct {
	Name, Color, Description string
}

// validReactions are the reactions GitHub accepts on a comment.
var validReactions = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// RepoLabels returns the repository's labels, sorted by name.
func (r *Repo) RepoLabels() []Label {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []Label
	for _, l := range r.labels {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Labels returns the labels on pull request (or issue) number, in the order
// they were added.
func (r *Repo) Labels(number int) []string {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if l := r.labelsOf(number); l != nil {
		return slices.Clone(*l)
	}
	return nil
}

// Reactions returns the reactions on comment id, in the order given.
func (r *Repo) Reactions(id int64) []string {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return slices.Clone(r.reactions[id])
}

// labelsOf points at the label list of issue or PR number; callers hold s.mu.
func (r *Repo) labelsOf(number int) *[]string {
	if is, ok := r.issues[number]; ok {
		return &is.labels
	}
	if pr, ok := r.prs[number]; ok {
		return &pr.labels
	}
	return nil
}

// autoCreateLabels records labels named on an issue, as GitHub creates
// unknown ones with a default colour; callers hold s.mu.
func (r *Repo) autoCreateLabels(names []string) {
	for _, n := range names {
		if _, ok := r.labels[strings.ToLower(n)]; !ok {
			r.labels[strings.ToLower(n)] = Label{Name: n, Color: defaultLabelColor}
		}
	}
}

func (r *Repo) apiLabel(l Label) *github.Label {
	return &github.Label{
		Name: github.Ptr(l.Name), Color: github.Ptr(l.Color), Description: github.Ptr(l.Description),
		URL: github.Ptr(r.apiURL() + "/labels/" + l.Name),
	}
}

func (s *Server) handleIssueLabels(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	s.mu.Lock()
	l := repo.labelsOf(int(number))
	if l == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	all := repo.apiLabels(*l)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(s, w, r, all))
}

func (s *Server) handleRemoveLabel(w http.ResponseWriter, r *http.Request, repo *Repo) {
	number, _ := pathInt(r, "number")
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	l := repo.labelsOf(int(number))
	if l == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	i := slices.IndexFunc(*l, func(have string) bool { return strings.EqualFold(have, name) })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Label does not exist")
		return
	}
	*l = slices.Delete(*l, i, i+1)
	writeJSON(w, http.StatusOK, repo.apiLabels(*l))
}

func (s *Server) handleGetLabel(w http.ResponseWriter, r *http.Request, repo *Repo) {
	s.mu.Lock()
	l, ok := repo.labels[strings.ToLower(r.PathValue("name"))]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, repo.apiLabel(l))
}

func (s *Server) handleCreateLabel(w http.ResponseWriter, r *http.Request, repo *Repo) {
	var req struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if req.Name == "" {
		writeValidation(w, "Label", "name", "missing_field", "")
		return
	}
	if len(req.Color) != 6 || strings.Trim(strings.ToLower(req.Color), "0123456789abcdef") != "" {
		writeValidation(w, "Label", "color", "invalid", "color must be 6 hex digits")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := repo.labels[strings.ToLower(req.Name)]; ok {
		writeValidation(w, "Label", "name", "already_exists", "")
		return
	}
	l := Label{Name: req.Name, Color: strings.ToLower(req.Color), Description: req.Description}
	repo.labels[strings.ToLower(req.Name)] = l
	writeJSON(w, http.StatusCreated, repo.apiLabel(l))
}

func (s *Server) handleReaction(w http.ResponseWriter, r *http.Request, repo *Repo) {
	id, _ := pathInt(r, "id")
	var req struct {
		Content string `json:"content"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if !slices.Contains(validReactions, req.Content) {
		writeValidation(w, "Reaction", "content", "invalid", "content is not a valid reaction")
		return
	}
	rid := s.newID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(repo.comments, func(c *commentState) bool { return c.ID == id }) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	status := http.StatusCreated
	if slices.Contains(repo.reactions[id], req.Content) {
		status = http.StatusOK // GitHub answers 200 for a reaction the app already gave
	} else {
		repo.reactions[id] = append(repo.reactions[id], req.Content)
	}
	writeJSON(w, status, &github.Reaction{ID: github.Ptr(rid), Content: github.Ptr(req.Content), User: s.apiUser(s.botLogin())})
}

// AddLabel puts label name on PR (or issue) number, as a person would.
func (r *Repo) AddLabel(t testing.TB, number int, name string) {
	t.Helper()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	l := r.labelsOf(number)
	if l == nil {
		t.Fatalf("githubtest: AddLabel: %s has no pull request or issue #%d", r.FullName(), number)
	}
	r.autoCreateLabels([]string{name})
	*l = addLabels(*l, []string{name})
}
