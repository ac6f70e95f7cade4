package report

import (
	"fmt"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/report/md"
)

// CheckName is the check-run name of a project for a kind of run.
func CheckName(kind, project string) string { return "tfpr " + kind + ": " + project }

// ExternalID is the external id of the check run of a kind ("plan",
// "apply") for a project: it brings a re-run request back to the project.
func ExternalID(kind, project string) string { return kind + ":" + project }

// ParseExternalID reads an ExternalID; ok is false for any other id.
func ParseExternalID(id string) (kind, project string, ok bool) {
	kind, project, ok = strings.Cut(id, ":")
	if !ok || kind == "" || project == "" {
		return "", "", false
	}
	return kind, project, true
}

// Check renders one project's result as a completed check run at sha.
func Check(kind, sha string, r Result) githubapp.CheckRun {
	cr := githubapp.CheckRun{
		Name:       CheckName(kind, r.Project),
		HeadSHA:    sha,
		ExternalID: ExternalID(kind, r.Project),
		Status:     "completed",
		DetailsURL: r.DetailsURL,
	}
	switch r.Outcome {
	case Planned, Applied:
		cr.Conclusion = "success"
	case Denied, Errored, ApplyFailed:
		cr.Conclusion = "failure"
	case Waiting:
		cr.Conclusion = "action_required"
	default:
		cr.Conclusion = "neutral"
	}
	if policy.Blocking(r.Findings) {
		cr.Conclusion = "failure"
	}
	cr.Title = checkTitle(kind, r)
	cr.Summary = strings.TrimSpace(string(section(r)))
	if out := outputOf(kind, r); out != "" {
		fence := md.Fence(out)
		cr.Text = fence + "\n" + truncate(out, githubapp.MaxCheckOutputChars-2*len(fence)-2) + "\n" + fence
	}
	for _, f := range sortFindings(r.Findings) {
		cr.Annotations = append(cr.Annotations, annotation(f))
	}
	return cr
}

// InProgress is the check run shown while a project's run is under way.
func InProgress(kind, sha, project string) githubapp.CheckRun {
	return githubapp.CheckRun{
		Name: CheckName(kind, project), HeadSHA: sha, ExternalID: ExternalID(kind, project),
		Status: "in_progress", Title: kind + " running", Summary: string(md.Sprintf("tfpr is running %s for %s.", md.Text(kind), md.Code(project))),
	}
}

func checkTitle(kind string, r Result) string {
	deny := 0
	for _, f := range r.Findings {
		if f.Severity == policy.SeverityDeny && !f.Suppressed {
			deny++
		}
	}
	switch r.Outcome {
	case Denied:
		return fmt.Sprintf("%d policy violation%s: terraform not run", deny, plural(deny))
	case Planned:
		if r.Plan != nil && !r.Plan.HasChanges {
			return "No changes"
		}
		if r.Plan != nil {
			return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy", r.Plan.Add, r.Plan.Change, r.Plan.Destroy)
		}
	case Applied:
		return "Applied"
	case ApplyFailed:
		return "Apply failed"
	case Errored:
		return kind + " failed"
	case Waiting:
		return "Waiting for approval"
	}
	return string(r.Outcome)
}

func annotation(f policy.Finding) githubapp.Annotation {
	level := "warning"
	switch {
	case f.Suppressed:
		level = "notice"
	case f.Severity == policy.SeverityDeny:
		level = "failure"
	}
	msg := f.Message
	if f.Suppressed {
		msg += " (suppressed: " + f.SuppressReason + ")"
	}
	title := f.Rule
	if f.Title != "" {
		title += ": " + f.Title
	}
	end := f.EndLine
	if f.Attribute != "" || end < f.Line {
		end = f.Line
	}
	return githubapp.Annotation{Path: f.File, StartLine: f.Line, EndLine: end, Level: level, Title: title, Message: msg}
}
