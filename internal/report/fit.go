package report

import (
	"sort"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report/md"
)

// Page is one comment of a round: the first is the living comment, the
// rest numbered follow-ups. Marker is Body's first line.
type Page = githubapp.MarkedComment

// CommentFamily is the start every marker of a round's comments shares:
// plans have one living comment per PR, applies one per merge commit.
func CommentFamily(kind Kind, sha string) string {
	return strings.TrimSuffix(CommentMarker(kind, sha, 1), " -->")
}

const (
	// limit leaves room under GitHub's cap for masking that lengthens text
	// and for a reply to a command (see WithReply).
	limit = githubapp.MaxCommentChars - 4096
	// minBody is the least plan text worth showing in a comment: less is
	// replaced by the cut note alone.
	minBody = 1200
	// overflowBody caps each project's plan text once the round spills
	// into follow-up comments, so hundreds of projects take a handful of
	// comments rather than one each.
	overflowBody = 3000
)

// Comment renders the round's living comment; see Render for rounds that
// need follow-ups.
func Comment(r Round) string { return Render(r)[0].Body }

// Render renders a round as comments under GitHub's size limit. In order,
// until it fits: sections are folded (only destroys, denials and errors
// stay open), each project's plan text is cut to a fair share keeping its
// head and tail, and, only when the summary table and the sections cannot
// share one comment, the sections continue in numbered follow-ups.
func Render(r Round) []Page {
	results := sorted(r.Results)
	if len(results) == 0 {
		body := header(r, results, 1, 1) + "\n" + execute("none", nil) + "\n"
		return []Page{{Marker: CommentMarker(r.Kind, r.SHA, 1), Body: body}}
	}
	rows := make([]rowView, len(results))
	secs := make([]sectionView, len(results))
	for i, res := range results {
		rows[i], secs[i] = row(res), section(r, res)
	}
	head := header(r, results, 1, 1)
	table := execute("table", rows)
	skeleton := len(head) + 1 + len(table)
	full := skeleton
	for i := range secs {
		skeleton += len(renderSection(secs[i], 0)) + 1
		full += len(renderSection(secs[i], -1)) + 1
	}
	if full <= limit {
		return []Page{onePage(r, head, table, secs, nil)}
	}
	if avail := limit - skeleton - 64; avail >= minBody*countBodies(secs) {
		return []Page{onePage(r, head, table, secs, shares(secs, avail))}
	}
	return overflow(r, results, rows, secs)
}

func onePage(r Round, head, table string, secs []sectionView, budget []int) Page {
	var b strings.Builder
	b.WriteString(head + "\n" + table)
	for i := range secs {
		n := -1
		if budget != nil {
			n = budget[i]
		}
		b.WriteString("\n" + renderSection(secs[i], n))
	}
	b.WriteString("\n")
	return Page{Marker: CommentMarker(r.Kind, r.SHA, 1), Body: b.String()}
}

// renderSection renders a section with its body cut to n bytes (-1: whole,
// 0: the cut note only).
func renderSection(sv sectionView, n int) string {
	if sv.Fence != "" && n >= 0 {
		sv.Body = trim(sv.full, n, sv.where)
		sv.Fence = md.Fence(sv.Body)
	}
	return execute("section", sv)
}

func countBodies(secs []sectionView) int {
	n := 0
	for _, s := range secs {
		if s.Fence != "" {
			n++
		}
	}
	return max(n, 1)
}

// shares divides avail bytes among the sections' bodies: a body smaller
// than its fair share keeps all of it and leaves the rest to the others.
func shares(secs []sectionView, avail int) []int {
	idx := make([]int, 0, len(secs))
	for i, s := range secs {
		if s.Fence != "" {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(secs[idx[a]].full) < len(secs[idx[b]].full) })
	out := make([]int, len(secs))
	for k, i := range idx {
		share := avail / (len(idx) - k)
		out[i] = min(len(secs[i].full), share)
		avail -= out[i]
	}
	return out
}

// overflow puts the header and table in the first comment (splitting the
// table itself only when it alone is too long) and the project sections in
// numbered follow-ups, each plan cut to overflowBody.
func overflow(r Round, results []Result, rows []rowView, secs []sectionView) []Page {
	var chunks []string // page bodies without their headers
	cur := ""
	room := limit - 600 // a page header with notes stays under this
	if n := len(header(r, results, 1, 1)); n > 600 {
		room = limit - n
	}
	push := func(s string) {
		if cur != "" && len(cur)+len(s) > room {
			chunks = append(chunks, cur)
			cur = ""
		}
		cur += s
	}
	for start := 0; start < len(rows); {
		end := start
		for end < len(rows) && len(execute("table", rows[start:end+1])) <= room {
			end++
		}
		end = max(end, start+1)
		push("\n" + execute("table", rows[start:end]))
		if end < len(rows) { // the table alone fills this page
			chunks = append(chunks, cur)
			cur = ""
		}
		start = end
	}
	for i := range secs {
		push("\n" + renderSection(secs[i], min(overflowBody, len(secs[i].full))))
	}
	if cur != "" {
		chunks = append(chunks, cur)
	}
	pages := make([]Page, len(chunks))
	for i, c := range chunks {
		body := header(r, results, i+1, len(chunks)) + c
		if i+1 < len(chunks) {
			body += "\n" + execute("more", plural(len(chunks)-i-1, "comment", "comments")) + "\n"
		}
		pages[i] = Page{Marker: CommentMarker(r.Kind, r.SHA, i+1), Body: body}
	}
	return pages
}
