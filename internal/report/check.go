package report

import (
	"fmt"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/report/md"
)

// CheckName is the check-run name of a project for a kind of run.
func CheckName(kind Kind, project string) string { return "tfpr " + string(kind) + ": " + project }

// ExternalID is the external id of the check run of a kind ("plan",
// "apply") for a project: it brings a re-run request back to the project.
func ExternalID(kind Kind, project string) string { return string(kind) + ":" + project }

// ParseExternalID reads an ExternalID; ok is false for any other id.
func ParseExternalID(id string) (kind Kind, project string, ok bool) {
	k, project, ok := strings.Cut(id, ":")
	kind = Kind(k)
	if !ok || kind == "" || project == "" {
		return "", "", false
	}
	return kind, project, true
}

// Check renders one project's result as a completed check run at sha. Its
// summary is the project's section of the comment; its text the whole
// output, cut (head and tail kept) only past GitHub's limit.
func Check(kind Kind, sha string, r Result) githubapp.CheckRun {
	cr := githubapp.CheckRun{
		Name:       CheckName(kind, r.Project),
		HeadSHA:    sha,
		ExternalID: ExternalID(kind, r.Project),
		Status:     githubapp.CheckCompleted,
		DetailsURL: r.DetailsURL,
	}
	switch r.Outcome {
	case Planned, Applied:
		cr.Conclusion = githubapp.ConclusionSuccess
	case Denied, Errored, ApplyFailed:
		cr.Conclusion = githubapp.ConclusionFailure
	case Waiting:
		cr.Conclusion = githubapp.ConclusionActionRequired
	default:
		cr.Conclusion = githubapp.ConclusionNeutral
	}
	if policy.Blocking(r.Findings) {
		cr.Conclusion = githubapp.ConclusionFailure
	}
	cr.Title = checkTitle(kind, r)
	sv := section(Round{Kind: kind, SHA: sha}, r)
	sv.Open = true
	cr.Summary = renderSection(sv, min(len(sv.full), githubapp.MaxCheckOutputChars-len(renderSection(sv, 0))-256))
	if sv.full != "" {
		// The whole output, not the section's diff: logs keep their text.
		out := clean(outputOf(r))
		fence := md.Fence(out)
		cr.Text = fence + "\n" + trim(out, githubapp.MaxCheckOutputChars-2*len(fence)-256, "the run log") + "\n" + fence
	}
	for _, f := range sortFindings(r.Findings) {
		cr.Annotations = append(cr.Annotations, annotation(f))
	}
	return cr
}

// AggregateName is the check a branch protection rule can require: it
// fails when any project errored or was denied.
const AggregateName = "tfpr"

// Aggregate renders the round's `tfpr` check run: failure if any project
// errored or a policy denied it, neutral when there was nothing to plan,
// success otherwise. Its summary is the comment's header and table.
func Aggregate(r Round) githubapp.CheckRun {
	results := sorted(r.Results)
	cr := githubapp.CheckRun{Name: AggregateName, HeadSHA: r.SHA, ExternalID: "aggregate:" + string(r.Kind), Status: githubapp.CheckCompleted, Conclusion: githubapp.ConclusionSuccess}
	v := roundVerdict(results)
	switch {
	case len(results) == 0 || v == VerdictNotRun:
		cr.Conclusion = githubapp.ConclusionNeutral
	case v == VerdictDenied || v == VerdictError || v == VerdictApplyFailed:
		cr.Conclusion = githubapp.ConclusionFailure
	}
	for _, res := range results {
		if rv := verdictOf(res); rv == VerdictDenied || rv == VerdictError || rv == VerdictApplyFailed {
			cr.Conclusion = githubapp.ConclusionFailure
		}
	}
	cr.Title = string(verdictWord(v, "")) + ", " + plural(len(results), "project", "projects")
	if len(results) == 0 {
		cr.Title = "Nothing to " + string(r.Kind)
	}
	pages := Render(r)
	body := pages[0].Body
	if i := strings.Index(body, "\n<details"); i > 0 {
		body = body[:i] + "\n"
	}
	cr.Summary = body
	return cr
}

// InProgressAggregate is the `tfpr` check while a round runs.
func InProgressAggregate(kind Kind, sha string, projects int) githubapp.CheckRun {
	return githubapp.CheckRun{Name: AggregateName, HeadSHA: sha, ExternalID: "aggregate:" + string(kind), Status: githubapp.CheckInProgress,
		Title: string(kind) + " running", Summary: string(md.Sprintf("tfpr is running %s for %s.", md.Text(string(kind)), md.Markdown(plural(projects, "project", "projects"))))}
}

// InProgress is the check run shown while a project's run is under way.
func InProgress(kind Kind, sha, project string) githubapp.CheckRun {
	return githubapp.CheckRun{
		Name: CheckName(kind, project), HeadSHA: sha, ExternalID: ExternalID(kind, project),
		Status: githubapp.CheckInProgress, Title: string(kind) + " running", Summary: string(md.Sprintf("tfpr is running %s for %s.", md.Text(string(kind)), md.Code(project))),
	}
}

func checkTitle(kind Kind, r Result) string {
	deny := 0
	for _, f := range r.Findings {
		if f.Severity == policy.SeverityDeny && !f.Suppressed {
			deny++
		}
	}
	switch r.Outcome {
	case Denied:
		return plural(deny, "policy violation", "policy violations") + ": terraform not run"
	case Planned:
		s, changed := summaryOf(r)
		switch {
		case r.Plan == nil:
		case !changed:
			return "No changes"
		default:
			t := fmt.Sprintf("+%d ~%d -%d ±%d", s.Create, s.Update, s.Delete, s.Replace)
			if s.Destructive() {
				t = "Destroys: " + t
			}
			return t
		}
	case Applied:
		return "Applied"
	case ApplyFailed:
		return "Apply failed"
	case Errored:
		return string(kind) + " failed"
	case Waiting:
		return "Waiting for approval"
	case Skipped:
		return verdictWord(VerdictNotRun, r.NotRun)
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
