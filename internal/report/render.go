package report

import (
	"embed"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/report/md"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates hold the layout only: every value they place is md.Markdown
// (or a fenced body) made in this package, so PR text stays inert.
var templates = template.Must(template.New("report").ParseFS(templateFS, "templates/*.tmpl"))

func execute(name string, data any) string {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are embedded and their data typed: an error here
		// is a bug in this package, caught by its golden tests.
		panic(fmt.Sprintf("report template %s: %v", name, err))
	}
	return b.String()
}

type headerView struct {
	Marker      string
	Icon        md.Markdown
	Kind        md.Markdown
	SHA         md.Markdown
	At          md.Markdown
	Count       md.Markdown
	Verdict     md.Markdown
	Part, Parts int
	Notes       []md.Markdown
}

func header(r Round, results []Result, part, parts int) string {
	v := roundVerdict(results)
	h := headerView{
		Marker: CommentMarker(r.Kind, r.SHA, part), Icon: verdictIcon(v), Kind: md.Text(string(r.Kind)), SHA: md.Code(short(r.SHA)),
		Count: md.Markdown(plural(len(results), "project", "projects")), Verdict: verdictText(v, NotRunFork),
	}
	if len(results) == 0 {
		h.Verdict = "nothing to plan"
	}
	if !r.At.IsZero() {
		h.At = md.Markdown(r.At.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if part > 1 {
		h.Part, h.Parts = part, parts
	} else {
		for _, n := range r.Notes {
			h.Notes = append(h.Notes, md.Note(n))
		}
	}
	return execute("header", h)
}

func verdictIcon(v Verdict) md.Markdown {
	switch v {
	case VerdictNoChanges, VerdictApplied:
		return "✅"
	case VerdictOutputs, VerdictChanges:
		return "📝"
	case VerdictDestroy:
		return "⚠️"
	case VerdictDenied:
		return "⛔"
	case VerdictError, VerdictApplyFailed:
		return "❌"
	case VerdictWaiting:
		return "⏸"
	}
	return "⏭"
}

// verdictWord names a verdict in plain words.
func verdictWord(v Verdict, why NotRun) string {
	switch v {
	case VerdictNoChanges:
		return "no changes"
	case VerdictOutputs:
		return "outputs only"
	case VerdictChanges:
		return "changes"
	case VerdictDestroy:
		return "destroy"
	case VerdictDenied:
		return "policy denied"
	case VerdictError:
		return "error"
	case VerdictApplied:
		return "applied"
	case VerdictApplyFailed:
		return "apply failed"
	case VerdictWaiting:
		return "waiting for approval"
	}
	if why == "" {
		return "not run"
	}
	return "not run (" + string(why) + ")"
}

// verdictText is verdictWord for markdown, a destroy in bold.
func verdictText(v Verdict, why NotRun) md.Markdown {
	if v == VerdictDestroy {
		return "**destroy**"
	}
	return md.Text(verdictWord(v, why))
}

type rowView struct {
	Project, Result               md.Markdown
	Add, Change, Destroy, Replace md.Markdown
	Also, Policy                  md.Markdown
}

func row(r Result) rowView {
	v := verdictOf(r)
	rv := rowView{Project: md.TableCode(r.Project), Result: md.Markdown(verdictIcon(v) + " " + verdictText(v, r.NotRun)), Policy: policyCell(r.Findings)}
	if s, _ := summaryOf(r); r.Plan != nil {
		rv.Add, rv.Change, rv.Destroy, rv.Replace = md.Int(s.Create), md.Int(s.Update), md.Int(s.Delete), md.Int(s.Replace)
		if s.Delete > 0 {
			rv.Destroy = md.Sprintf("**%s**", rv.Destroy)
		}
		if s.Replace > 0 {
			rv.Replace = md.Sprintf("**%s**", rv.Replace)
		}
		var also []string
		for _, c := range []struct {
			n         int
			one, many string
		}{{s.Import, "import", "imports"}, {s.Move, "move", "moves"}, {s.Forget, "removal", "removals"}, {s.Outputs, "output", "outputs"}} {
			if c.n > 0 {
				also = append(also, plural(c.n, c.one, c.many))
			}
		}
		rv.Also = md.Markdown(strings.Join(also, ", "))
	}
	return rv
}

func policyCell(fs []policy.Finding) md.Markdown {
	var deny, warn, supp int
	for _, f := range fs {
		switch {
		case f.Suppressed:
			supp++
		case f.Severity == policy.SeverityDeny:
			deny++
		default:
			warn++
		}
	}
	var parts []string
	if deny > 0 {
		parts = append(parts, fmt.Sprintf("❌ %d", deny))
	}
	if warn > 0 {
		parts = append(parts, fmt.Sprintf("⚠️ %d", warn))
	}
	if supp > 0 {
		parts = append(parts, fmt.Sprintf("%d suppressed", supp))
	}
	if len(parts) == 0 {
		return "✅"
	}
	return md.Markdown(strings.Join(parts, " · "))
}

type sectionView struct {
	Open      bool
	Icon      md.Markdown
	Project   md.Markdown
	Verdict   md.Markdown
	Notes     []md.Markdown
	WarnTitle md.Markdown
	Warn      []md.Markdown
	Status    md.Markdown
	RunLog    md.Markdown // link to the run on the runs page, or empty
	Findings  []md.Markdown
	Fence     string // empty: no output to show
	Lang      string
	Body      string // the text inside the fence
	// full is Body before any cut, where names where the rest is.
	full, where string
}

// section builds a project's collapsible section with its whole output.
func section(r Round, res Result) sectionView {
	v := verdictOf(res)
	sv := sectionView{Icon: verdictIcon(v), Project: md.HTML(res.Project), Verdict: md.HTML(verdictWord(v, res.NotRun)),
		where: whereFull(r.Kind, res.Project)}
	for _, n := range res.Notes {
		sv.Notes = append(sv.Notes, md.Note(n))
	}
	s, _ := summaryOf(res)
	if s.Destructive() && res.Outcome == Planned {
		// Kept open and first: a destroy must not hide in a folded plan.
		sv.Open = true
		sv.WarnTitle = md.Markdown(warnTitle(s.Delete, s.Replace))
		for _, a := range s.Deleted {
			sv.Warn = append(sv.Warn, md.Sprintf("%s destroyed", md.Code(a)))
		}
		for _, a := range s.Replaced {
			sv.Warn = append(sv.Warn, md.Sprintf("%s replaced (destroyed, then created)", md.Code(a)))
		}
	}
	sv.Status = status(r.Kind, res, v)
	if res.DetailsURL != "" {
		// The URL is TFPR_PUBLIC_URL checked by config (no character
		// that ends a link) plus a run id.
		sv.RunLog = md.Markdown("[Run log](" + res.DetailsURL + ")")
	}
	shown, more := capFindings(res.Findings)
	for _, f := range shown {
		sv.Findings = append(sv.Findings, findingLine(r, f))
	}
	if more > 0 {
		sv.Findings = append(sv.Findings, md.Markdown(fmt.Sprintf("… and %d more; the check run annotates every finding.", more)))
	}
	if v == VerdictDenied || v == VerdictError || v == VerdictApplyFailed {
		sv.Open = true
	}
	if out := outputOf(res); out != "" {
		text := clean(out)
		if res.Outcome == Planned || res.Outcome == Applied {
			text, sv.Lang = diffMarks(text), "diff"
		}
		sv.full, sv.Body, sv.Fence = text, text, md.Fence(text)
	}
	return sv
}

func warnTitle(del, rep int) string {
	switch {
	case del > 0 && rep > 0:
		return fmt.Sprintf("This plan destroys %s and replaces %s.", plural(del, "resource", "resources"), plural(rep, "resource", "resources"))
	case del > 0:
		return fmt.Sprintf("This plan destroys %s.", plural(del, "resource", "resources"))
	}
	return fmt.Sprintf("This plan replaces %s (destroy, then create).", plural(rep, "resource", "resources"))
}

func status(kind Kind, r Result, v Verdict) md.Markdown {
	switch r.Outcome {
	case Denied:
		return "Policy denied this project; terraform was **not** run."
	case Skipped:
		switch r.NotRun {
		case NotRunFork:
			return "Policy checks ran; terraform was not run for a PR from a fork."
		case NotRunCap:
			return "Not checked or planned: this push affects more projects than tfpr plans at once."
		}
		return "Terraform was not run for this project."
	case Errored:
		if kind == KindApply {
			return "**Apply failed.**"
		}
		return "**Plan failed.**"
	case ApplyFailed:
		return "**Apply failed.** Later merges touching this project wait until it is fixed."
	case Applied:
		return "**Apply complete.**"
	case Waiting:
		return "The apply waits for an approval."
	}
	if v == VerdictNoChanges {
		return "**No changes.** Infrastructure matches the configuration."
	}
	if v == VerdictDenied {
		return "A plan-stage policy denied this plan; it will not be applied without an approval."
	}
	return ""
}

// findingLine renders a finding; its rule, file, message and suppression
// reason may all carry text from the PR. The place links to the file at the
// PR head when the repository's address is known.
func findingLine(r Round, f policy.Finding) md.Markdown {
	icon := md.Markdown("⚠️")
	if f.Severity == policy.SeverityDeny {
		icon = "❌"
	}
	where := f.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	place := md.Code(where)
	if r.RepoURL != "" && f.File != "" && r.SHA != "" {
		place = md.BlobLink(place, r.RepoURL, r.SHA, f.File, f.Line)
	}
	if f.Suppressed {
		return md.Sprintf("~~%s **%s** %s %s~~ suppressed: %s", icon, md.Text(f.Rule), place, md.Text(f.Message), md.Text(f.SuppressReason))
	}
	return md.Sprintf("%s **%s** %s %s", icon, md.Text(f.Rule), place, md.Text(f.Message))
}

// maxFindings bounds the findings a section lists: a PR can make thousands.
const maxFindings = 30

// capFindings picks the findings a section lists, denials first, in file
// order, and how many it leaves out.
func capFindings(fs []policy.Finding) ([]policy.Finding, int) {
	if len(fs) <= maxFindings {
		return sortFindings(fs), 0
	}
	out := append([]policy.Finding(nil), fs...)
	rank := func(f policy.Finding) int {
		switch {
		case f.Suppressed:
			return 2
		case f.Severity == policy.SeverityDeny:
			return 0
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return sortFindings(out[:maxFindings]), len(fs) - maxFindings
}
