// Package report renders what tfpr tells a PR: one comment per plan or apply
// round (a summary table, then each project's findings and terraform output)
// and one check run per project. It only renders; githubapp posts.
package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/report/md"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Outcome of one project in a round.
type Outcome string

const (
	Planned     Outcome = "planned"
	Denied      Outcome = "denied"  // policy denied: terraform did not run
	Errored     Outcome = "error"   // tfpr or terraform failed
	Skipped     Outcome = "skipped" // deliberately not run (fork PR, blocked project)
	Applied     Outcome = "applied"
	ApplyFailed Outcome = "apply failed"
	Waiting     Outcome = "waiting" // apply held for a person
)

// Result is one project's part of a round. Every string in it is plain
// text, never markdown: rendering escapes it (see package md).
type Result struct {
	Project  string
	Outcome  Outcome
	Findings []policy.Finding
	Plan     *terraform.Plan // nil when terraform did not plan
	Output   string          // apply output, or the error text
	// Notes are lines of prose, e.g. "re-planned on the merge commit
	// because ..."; text between single backticks is shown as code.
	Notes []string
	// DetailsURL is the run on tfpr's runs page (TFPR_PUBLIC_URL): the
	// check run's Details link and a link in the comment. Empty: none.
	DetailsURL string
}

// Round is everything rendered for one commit.
type Round struct {
	Kind    string // "plan" or "apply"
	SHA     string
	PR      int
	Results []Result
	Notes   []string // round-wide notes, as Result.Notes, e.g. why terraform was not run for a fork
}

// Marker starts every tfpr comment so tooling can find them.
func Marker(kind string) string { return "<!-- tfpr:" + kind + " -->" }

// Comment renders the round as one PR comment within GitHub's limit. Plan
// and apply output is shared out over the budget left after the summary and
// findings; each project's check run carries its own full (to 65,535) text.
func Comment(r Round) string {
	results := sorted(r.Results)
	var head strings.Builder
	head.WriteString(Marker(r.Kind) + "\n")
	head.WriteString(string(md.Sprintf("### tfpr %s for %s\n\n", md.Text(r.Kind), md.Code(short(r.SHA)))))
	for _, n := range r.Notes {
		head.WriteString(string(md.Sprintf("> %s\n\n", md.Note(n))))
	}
	if len(results) == 0 {
		head.WriteString("No Terraform project is affected by this change.\n")
		return head.String()
	}
	head.WriteString("| Project | Policy | Result |\n|---|---|---|\n")
	for _, res := range results {
		head.WriteString(string(md.Sprintf("| %s | %s | %s |\n", md.TableCode(res.Project), policyCell(res.Findings), resultCell(res))))
	}

	sections := make([]string, len(results))
	outputs := make([]string, len(results))
	fixed := head.Len()
	for i, res := range results {
		sections[i] = string(section(res))
		outputs[i] = outputOf(r.Kind, res)
		fixed += len(sections[i])
	}
	budget := githubapp.MaxCommentChars - fixed - 200
	var b strings.Builder
	b.WriteString(head.String())
	for i, res := range results {
		b.WriteString(sections[i])
		if outputs[i] == "" {
			continue
		}
		share := 0
		if budget > 0 {
			share = budget / countNonEmpty(outputs[i:])
		}
		block := details(res, outputs[i], share)
		budget -= len(block)
		b.WriteString(block)
	}
	return b.String()
}

func countNonEmpty(ss []string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return max(n, 1)
}

func sorted(rs []Result) []Result {
	out := append([]Result(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
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
		parts = append(parts, fmt.Sprintf("❌ %d denied", deny))
	}
	if warn > 0 {
		parts = append(parts, fmt.Sprintf("⚠️ %d warning%s", warn, plural(warn)))
	}
	if supp > 0 {
		parts = append(parts, fmt.Sprintf("%d suppressed", supp))
	}
	if len(parts) == 0 {
		return "✅ passed"
	}
	return md.Markdown(strings.Join(parts, ", "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func resultCell(r Result) md.Markdown {
	switch r.Outcome {
	case Planned:
		if r.Plan != nil && !r.Plan.HasChanges {
			return "no changes"
		}
		return md.Markdown(counts(r.Plan))
	case Applied:
		if r.Plan != nil {
			return md.Markdown("✅ applied " + counts(r.Plan))
		}
		return "✅ applied"
	case Denied:
		return "⛔ not run (policy)"
	case ApplyFailed:
		return "❌ apply failed"
	case Errored:
		return "❌ error"
	case Waiting:
		return "⏸ waiting"
	default:
		return "⏭ " + md.Text(string(r.Outcome))
	}
}

func counts(p *terraform.Plan) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("+%d ~%d -%d", p.Add, p.Change, p.Destroy)
}

func section(r Result) md.Markdown {
	var b strings.Builder
	b.WriteString(string(md.Sprintf("\n#### %s\n", md.Code(r.Project))))
	if r.DetailsURL != "" {
		// The operator's URL (checked at start-up) and a run id, not PR text.
		b.WriteString("[Run log](" + r.DetailsURL + ")\n\n")
	}
	for _, n := range r.Notes {
		b.WriteString(string(md.Sprintf("> %s\n", md.Note(n))))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n") // or the next line continues the quote
	}
	switch r.Outcome {
	case Denied:
		b.WriteString("Policy denied this project; terraform was **not** run.\n")
	case Planned:
		if r.Plan != nil {
			if r.Plan.HasChanges {
				b.WriteString(string(md.Sprintf("**Plan: %s to add, %s to change, %s to destroy.**\n", md.Int(r.Plan.Add), md.Int(r.Plan.Change), md.Int(r.Plan.Destroy))))
			} else {
				b.WriteString("**No changes.** Infrastructure matches the configuration.\n")
			}
		}
	case Applied:
		b.WriteString("**Apply complete.**\n")
	case ApplyFailed:
		b.WriteString("**Apply failed.** Later merges touching this project wait until it is fixed.\n")
	case Errored:
		b.WriteString("**Error.**\n")
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
		for _, f := range sortFindings(r.Findings) {
			b.WriteString(string(findingLine(f)))
		}
	}
	return md.Markdown(b.String())
}

// findingLine renders a finding; its rule, file, message and suppression
// reason may all carry text from the PR.
func findingLine(f policy.Finding) md.Markdown {
	icon := md.Markdown("⚠️")
	if f.Severity == policy.SeverityDeny {
		icon = "❌"
	}
	where := f.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if f.Suppressed {
		return md.Sprintf("- ~~%s **%s** %s %s~~ suppressed: %s\n", icon, md.Text(f.Rule), md.Code(where), md.Text(f.Message), md.Text(f.SuppressReason))
	}
	return md.Sprintf("- %s **%s** %s %s\n", icon, md.Text(f.Rule), md.Code(where), md.Text(f.Message))
}

func sortFindings(fs []policy.Finding) []policy.Finding {
	out := append([]policy.Finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

func outputOf(kind string, r Result) string {
	switch {
	case r.Outcome == Planned && r.Plan != nil && r.Plan.HasChanges:
		return r.Plan.Text
	case r.Output != "":
		return r.Output
	}
	return ""
}

// details wraps text in a collapsible block of at most limit characters.
func details(r Result, text string, limit int) string {
	summary := "Show output"
	if r.Outcome == Planned {
		summary = "Show plan"
	}
	fence := md.Fence(text)
	open := fmt.Sprintf("\n<details><summary>%s</summary>\n\n%s\n", summary, fence)
	closing := fmt.Sprintf("\n%s\n</details>\n", fence)
	room := limit - len(open) - len(closing)
	if room < 200 {
		return "\n_Output omitted to fit GitHub's comment limit; see the check run._\n"
	}
	return open + truncate(text, room) + closing
}

// truncate keeps the head of text within n bytes, cut at a line boundary,
// and says how much was dropped.
func truncate(text string, n int) string {
	if len(text) <= n {
		return text
	}
	note := fmt.Sprintf("\n… %d more characters truncated; the check run has more.", len(text)-n)
	cut := n - len(note)
	if cut < 0 {
		cut = 0
	}
	if i := strings.LastIndexByte(text[:cut], '\n'); i > 0 {
		cut = i
	}
	return text[:cut] + note
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
