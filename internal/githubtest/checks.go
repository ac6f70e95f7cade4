package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v88/github"
)

// GitHub's check run limits.
const (
	maxOutputChars         = 65535
	maxAnnotationsPerWrite = 50
)

// Annotation is one check run annotation.
type Annotation struct {
	Path               string
	StartLine, EndLine int
	Level              string
	Message            string
	Title              string
}

// CheckRun is a check run the fake holds. Annotations accumulate over the
// create and every update, as on GitHub; Title, Summary and Text are the
// latest output.
type CheckRun struct {
	ID                                                        int64
	Name, HeadSHA, Status, Conclusion, ExternalID, DetailsURL string
	Title, Summary, Text                                      string
	Annotations                                               []Annotation
}

type checkRunState struct {
	CheckRun
	startedAt, completedAt time.Time
}

// CheckRuns returns every check run on the repository, oldest first.
func (r *Repo) CheckRuns() []CheckRun {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	out := make([]CheckRun, 0, len(r.checkRuns))
	for _, cr := range r.checkRuns {
		c := cr.CheckRun
		c.Annotations = slices.Clone(c.Annotations)
		out = append(out, c)
	}
	return out
}

func validStatus(s string) bool {
	return s == "queued" || s == "in_progress" || s == "completed"
}

func validConclusion(c string) bool {
	switch c {
	case "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out":
		return true
	}
	return false
}

// checkOutput enforces GitHub's output rules and writes the 422 when they
// fail; create needs a title, both need a summary.
func checkOutput(w http.ResponseWriter, out *github.CheckRunOutput, creating bool) bool {
	if out == nil {
		return true
	}
	if creating && out.GetTitle() == "" {
		writeValidation(w, "CheckRun", "output.title", "missing_field", "")
		return false
	}
	if out.Summary == nil {
		writeValidation(w, "CheckRun", "output.summary", "missing_field", "")
		return false
	}
	for field, v := range map[string]string{"output.summary": out.GetSummary(), "output.text": out.GetText()} {
		if n := utf8.RuneCountInString(v); n > maxOutputChars {
			writeValidation(w, "CheckRun", field, "custom", fmt.Sprintf("Only %d characters are allowed; %d were supplied.", maxOutputChars, n))
			return false
		}
	}
	if n := len(out.Annotations); n > maxAnnotationsPerWrite {
		writeValidation(w, "CheckRun", "output.annotations", "custom", fmt.Sprintf("Only %d annotations are allowed per request; %d were supplied.", maxAnnotationsPerWrite, n))
		return false
	}
	for i, a := range out.Annotations {
		field := fmt.Sprintf("output.annotations[%d]", i)
		switch {
		case a.GetPath() == "":
			writeValidation(w, "CheckRun", field+".path", "missing_field", "")
		case a.StartLine == nil || a.GetStartLine() < 1:
			writeValidation(w, "CheckRun", field+".start_line", "missing_field", "")
		case a.EndLine == nil || a.GetEndLine() < a.GetStartLine():
			writeValidation(w, "CheckRun", field+".end_line", "invalid", "end_line must be at or after start_line")
		case a.GetAnnotationLevel() != "notice" && a.GetAnnotationLevel() != "warning" && a.GetAnnotationLevel() != "failure":
			writeValidation(w, "CheckRun", field+".annotation_level", "invalid", "annotation_level must be notice, warning or failure")
		case a.GetMessage() == "":
			writeValidation(w, "CheckRun", field+".message", "missing_field", "")
		case (a.StartColumn != nil || a.EndColumn != nil) && a.GetStartLine() != a.GetEndLine():
			writeValidation(w, "CheckRun", field+".start_column", "invalid", "start_column and end_column are only allowed when start_line equals end_line")
		default:
			continue
		}
		return false
	}
	return true
}

func annotations(out *github.CheckRunOutput) []Annotation {
	if out == nil {
		return nil
	}
	var as []Annotation
	for _, a := range out.Annotations {
		as = append(as, Annotation{
			Path:      a.GetPath(),
			StartLine: a.GetStartLine(),
			EndLine:   a.GetEndLine(),
			Level:     a.GetAnnotationLevel(),
			Message:   a.GetMessage(),
			Title:     a.GetTitle(),
		})
	}
	return as
}

// checkStatus applies GitHub's status/conclusion rules: a conclusion forces
// status completed, and completed needs a conclusion.
func checkStatus(w http.ResponseWriter, status, conclusion *string, hadConclusion bool) (string, bool) {
	if status != nil && !validStatus(*status) {
		writeValidation(w, "CheckRun", "status", "invalid", "status must be queued, in_progress or completed")
		return "", false
	}
	if conclusion != nil && !validConclusion(*conclusion) {
		writeValidation(w, "CheckRun", "conclusion", "invalid", "conclusion is not included in the list")
		return "", false
	}
	if conclusion != nil {
		return "completed", true
	}
	if status != nil && *status == "completed" && !hadConclusion {
		writeValidation(w, "CheckRun", "conclusion", "missing_field", "conclusion is required when status is completed")
		return "", false
	}
	if status != nil {
		return *status, true
	}
	return "", true
}

func (s *Server) handleCreateCheckRun(w http.ResponseWriter, r *http.Request, repo *Repo) {
	var req github.CreateCheckRunOptions
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		writeValidation(w, "CheckRun", "name", "missing_field", "")
		return
	}
	if req.HeadSHA == "" {
		writeValidation(w, "CheckRun", "head_sha", "missing_field", "")
		return
	}
	status, ok := checkStatus(w, req.Status, req.Conclusion, false)
	if !ok || !checkOutput(w, req.Output, true) {
		return
	}
	sha, ok := repo.resolveCommit(r.Context(), req.HeadSHA)
	if !ok || !strings.EqualFold(sha, req.HeadSHA) {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+req.HeadSHA)
		return
	}
	if status == "" {
		status = "queued"
	}
	now := time.Now()
	cr := &checkRunState{
		CheckRun: CheckRun{
			ID:          s.newID(),
			Name:        req.Name,
			HeadSHA:     sha,
			Status:      status,
			Conclusion:  req.GetConclusion(),
			ExternalID:  req.GetExternalID(),
			DetailsURL:  req.GetDetailsURL(),
			Annotations: annotations(req.Output),
		},
		startedAt: now,
	}
	if req.StartedAt != nil {
		cr.startedAt = req.StartedAt.Time
	}
	if status == "completed" {
		cr.completedAt = now
		if req.CompletedAt != nil {
			cr.completedAt = req.CompletedAt.Time
		}
	}
	if req.Output != nil {
		cr.Title, cr.Summary, cr.Text = req.Output.GetTitle(), req.Output.GetSummary(), req.Output.GetText()
	}
	s.mu.Lock()
	repo.checkRuns = append(repo.checkRuns, cr)
	resp := repo.apiCheckRun(cr)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) handleUpdateCheckRun(w http.ResponseWriter, r *http.Request, repo *Repo) {
	id, _ := pathInt(r, "id")
	var raw map[string]json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	var req github.UpdateCheckRunOptions
	if b, err := json.Marshal(raw); err != nil || json.Unmarshal(b, &req) != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	// go-github always sends "name" on update; an empty one would blank the
	// check's name, which GitHub refuses.
	if _, sent := raw["name"]; sent && strings.TrimSpace(req.Name) == "" {
		writeValidation(w, "CheckRun", "name", "missing_field", "")
		return
	}
	if !checkOutput(w, req.Output, false) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(repo.checkRuns, func(c *checkRunState) bool { return c.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	cr := repo.checkRuns[i]
	status, ok := checkStatus(w, req.Status, req.Conclusion, cr.Conclusion != "")
	if !ok {
		return
	}
	if req.Name != "" {
		cr.Name = req.Name
	}
	if req.ExternalID != nil {
		cr.ExternalID = *req.ExternalID
	}
	if req.DetailsURL != nil {
		cr.DetailsURL = *req.DetailsURL
	}
	if req.Conclusion != nil {
		cr.Conclusion = *req.Conclusion
	}
	if status != "" {
		cr.Status = status
	}
	if cr.Status == "completed" && cr.completedAt.IsZero() {
		cr.completedAt = time.Now()
		if req.CompletedAt != nil {
			cr.completedAt = req.CompletedAt.Time
		}
	}
	if req.Output != nil {
		if req.Output.Title != nil {
			cr.Title = *req.Output.Title
		}
		cr.Summary = req.Output.GetSummary()
		if req.Output.Text != nil {
			cr.Text = *req.Output.Text
		}
		cr.Annotations = append(cr.Annotations, annotations(req.Output)...)
	}
	writeJSON(w, http.StatusOK, repo.apiCheckRun(cr))
}

func (s *Server) handleGetCheckRun(w http.ResponseWriter, r *http.Request, repo *Repo) {
	id, _ := pathInt(r, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(repo.checkRuns, func(c *checkRunState) bool { return c.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, repo.apiCheckRun(repo.checkRuns[i]))
}

func (s *Server) handleListAnnotations(w http.ResponseWriter, r *http.Request, repo *Repo) {
	id, _ := pathInt(r, "id")
	s.mu.Lock()
	i := slices.IndexFunc(repo.checkRuns, func(c *checkRunState) bool { return c.ID == id })
	if i < 0 {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	all := []*github.CheckRunAnnotation{}
	for _, a := range repo.checkRuns[i].Annotations {
		all = append(all, &github.CheckRunAnnotation{
			Path:            github.Ptr(a.Path),
			StartLine:       github.Ptr(a.StartLine),
			EndLine:         github.Ptr(a.EndLine),
			AnnotationLevel: github.Ptr(a.Level),
			Message:         github.Ptr(a.Message),
			Title:           github.Ptr(a.Title),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(s, w, r, all))
}

// handleListCheckRuns lists like GitHub: newest first and, unless
// filter=all, only the latest run of each name.
func (s *Server) handleListCheckRuns(w http.ResponseWriter, r *http.Request, repo *Repo) {
	ref := r.PathValue("ref")
	sha, ok := repo.resolveCommit(r.Context(), ref)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	q := r.URL.Query()
	filter := q.Get("filter")
	if filter == "" {
		filter = "latest"
	}
	if filter != "latest" && filter != "all" {
		writeValidation(w, "CheckRun", "filter", "invalid", "filter must be latest or all")
		return
	}
	s.mu.Lock()
	var all []*github.CheckRun
	seen := map[string]bool{}
	for i := len(repo.checkRuns) - 1; i >= 0; i-- {
		cr := repo.checkRuns[i]
		if cr.HeadSHA != sha {
			continue
		}
		if filter == "latest" {
			if seen[cr.Name] {
				continue
			}
			seen[cr.Name] = true
		}
		if name := q.Get("check_name"); name != "" && cr.Name != name {
			continue
		}
		if st := q.Get("status"); st != "" && cr.Status != st {
			continue
		}
		all = append(all, repo.apiCheckRun(cr))
	}
	s.mu.Unlock()
	total := len(all)
	page := paginate(s, w, r, all)
	writeJSON(w, http.StatusOK, struct {
		Total     int                `json:"total_count"`
		CheckRuns []*github.CheckRun `json:"check_runs"`
	}{total, page})
}

// apiCheckRun renders a check run; callers hold s.mu.
func (r *Repo) apiCheckRun(cr *checkRunState) *github.CheckRun {
	url := fmt.Sprintf("%s/check-runs/%d", r.apiURL(), cr.ID)
	out := &github.CheckRun{
		ID:         github.Ptr(cr.ID),
		NodeID:     github.Ptr(fmt.Sprintf("CR_%d", cr.ID)),
		HeadSHA:    github.Ptr(cr.HeadSHA),
		Name:       github.Ptr(cr.Name),
		Status:     github.Ptr(cr.Status),
		URL:        github.Ptr(url),
		HTMLURL:    github.Ptr(fmt.Sprintf("%s/runs/%d", r.htmlURL(), cr.ID)),
		StartedAt:  &github.Timestamp{Time: cr.startedAt},
		App:        &github.App{ID: github.Ptr(r.s.appID), Slug: github.Ptr(r.s.appSlug), Name: github.Ptr(r.s.appSlug)},
		CheckSuite: &github.CheckSuite{ID: github.Ptr(cr.ID)},
		Output: &github.CheckRunOutput{
			AnnotationsCount: github.Ptr(len(cr.Annotations)),
			AnnotationsURL:   github.Ptr(url + "/annotations"),
		},
		PullRequests: []*github.PullRequest{},
	}
	if cr.Conclusion != "" {
		out.Conclusion = github.Ptr(cr.Conclusion)
	}
	if !cr.completedAt.IsZero() {
		out.CompletedAt = &github.Timestamp{Time: cr.completedAt}
	}
	if cr.ExternalID != "" {
		out.ExternalID = github.Ptr(cr.ExternalID)
	}
	if cr.DetailsURL != "" {
		out.DetailsURL = github.Ptr(cr.DetailsURL)
	}
	if cr.Title != "" {
		out.Output.Title = github.Ptr(cr.Title)
	}
	if cr.Summary != "" {
		out.Output.Summary = github.Ptr(cr.Summary)
	}
	if cr.Text != "" {
		out.Output.Text = github.Ptr(cr.Text)
	}
	for _, pr := range sortedByNumber(r.prs) {
		if pr.State == "open" && pr.HeadSHA == cr.HeadSHA {
			out.PullRequests = append(out.PullRequests, r.apiPull(pr))
		}
	}
	return out
}
