package report

import (
	"fmt"
	"regexp"
	"strings"
)

// noiseLine matches terraform's progress chatter, which says nothing about
// what the plan does: state refreshes, data source reads, lock handling.
var noiseLine = regexp.MustCompile(`^\S.*: (Refreshing state\.\.\.|Reading\.\.\.|Read complete after |Still reading\.\.\.|Preparing import\.\.\.|Importing from ID )|^(Acquiring|Releasing) state lock\.|^Refreshing Terraform state in-memory`)

// legendStart opens the paragraph explaining action symbols, which the
// diff colours make redundant (and whose symbol lines would be coloured as
// changes).
const legendStart = "Terraform used the selected providers to generate the following execution"

// clean drops noise from terraform's human-readable output: progress lines,
// the symbol legend, separator rules and the "saved the plan" epilogue,
// and runs of blank lines.
func clean(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t\r")
		switch {
		case noiseLine.MatchString(l):
			continue
		case strings.HasPrefix(l, legendStart):
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
			}
			continue
		case strings.HasPrefix(l, "─────"), strings.HasPrefix(l, "Saved the plan to:"),
			strings.HasPrefix(l, "To perform exactly these actions"), strings.HasPrefix(l, `    terraform apply "`):
			continue
		case l == "" && (len(out) == 0 || out[len(out)-1] == ""):
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

// diffMarks moves terraform's action symbols to the start of each line, as
// a diff's markers, so GitHub colours a ```diff block: "+" creates, "-"
// destroys, "!" updates and replacements. The symbol's own column becomes a
// space so attributes stay aligned; every other line starts with a space
// and stays uncoloured.
func diffMarks(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		indent := len(l) - len(trimmed)
		mark, sym := byte(' '), 0
		switch {
		case strings.HasPrefix(trimmed, "-/+ "), strings.HasPrefix(trimmed, "+/- "):
			mark, sym = '!', 3
		case strings.HasPrefix(trimmed, "+ "):
			mark, sym = '+', 1
		case strings.HasPrefix(trimmed, "- "):
			mark, sym = '-', 1
		case strings.HasPrefix(trimmed, "~ "):
			mark, sym = '!', 1
		}
		if sym == 0 {
			if l != "" && (l[0] == '+' || l[0] == '-' || l[0] == '!' || l[0] == '@') {
				lines[i] = " " + l // not a change: must not be coloured as one
			}
			continue
		}
		lines[i] = string(mark) + strings.Repeat(" ", indent+sym-1) + trimmed[sym:]
	}
	return strings.Join(lines, "\n")
}

// trim keeps the head and tail of text within n bytes, cut at line
// boundaries, and puts a note where the lines were cut saying how many and
// where the whole text is.
func trim(text string, n int, whole string) string {
	if len(text) <= n {
		return text
	}
	total := strings.Count(text, "\n") + 1
	note := func(cut, from int) string {
		return fmt.Sprintf("\n… %d lines cut here (lines %d–%d of %d); the full text is in %s …\n", cut, from, from+cut-1, total, whole)
	}
	room := n - len(note(total, total))
	if room <= 0 {
		return strings.TrimSpace(note(total, 1))
	}
	headEnd := cutBefore(text, room*2/3)
	tailStart := cutAfter(text, len(text)-(room-headEnd))
	if tailStart < headEnd {
		tailStart = headEnd
	}
	from := strings.Count(text[:headEnd], "\n") + 2
	cut := strings.Count(text[headEnd:tailStart], "\n")
	if headEnd == 0 { // even the first line was too long
		from, cut = 1, cut+1
	}
	return text[:headEnd] + note(cut, from) + text[tailStart+1:]
}

// cutBefore returns the index of the last newline at or before n, so
// text[:i] is whole lines.
func cutBefore(text string, n int) int {
	if n >= len(text) {
		return len(text)
	}
	if n < 0 {
		return 0
	}
	if i := strings.LastIndexByte(text[:n], '\n'); i >= 0 {
		return i
	}
	return 0
}

// cutAfter returns the index of the first newline at or after n, so
// text[i+1:] is whole lines.
func cutAfter(text string, n int) int {
	if n <= 0 {
		return 0
	}
	if n >= len(text) {
		return len(text) - 1
	}
	if i := strings.IndexByte(text[n:], '\n'); i >= 0 {
		return n + i
	}
	return len(text) - 1
}
