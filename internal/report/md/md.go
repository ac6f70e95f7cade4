// Package md renders untrusted strings into GitHub-flavoured markdown so
// they show as the characters they are and do nothing else: no mention
// pings a team, no image loads, no link or heading appears under tfpr's
// name, and no code block is closed early.
//
// A PR controls much of what tfpr reports (file and project names, policy
// messages that quote its code, tfpr:ignore reasons, plan output that
// echoes its strings), so report builds comments only from Markdown values:
// literal text it writes itself, and what Text, Code, TableCode, Note and
// Fence make of everything else.
package md

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Markdown is text that is safe to place in a comment as it is.
type Markdown string

// joiner is a zero-width joiner. Put between '@' and a name, '#' and a
// number, or ':' and '//', it keeps the text as readers see it but stops
// GitHub from turning it into a mention, an issue reference or a link.
const joiner = "\u200d"

// Sprintf formats with Markdown arguments only, so a raw string cannot be
// interpolated by mistake.
func Sprintf(format string, args ...Markdown) Markdown {
	as := make([]any, len(args))
	for i, a := range args {
		as[i] = string(a)
	}
	return Markdown(fmt.Sprintf(format, as...))
}

// Int renders a number.
func Int(n int) Markdown { return Markdown(strconv.Itoa(n)) }

// Text renders s as inline text on one line: whitespace runs (newlines
// included) become one space, HTML is escaped, markdown punctuation is
// backslash-escaped, and mentions, issue references and autolinks are
// broken with a zero-width joiner.
func Text(s string) Markdown {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '_':
			// Between letters or digits '_' can neither open nor close
			// emphasis; leaving it keeps resource names readable.
			if i == 0 || i+1 == len(s) || !isAlnum(s[i-1]) || !isAlnum(s[i+1]) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '\\', '`', '*', '~', '[', ']', '|', '!', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '#':
			b.WriteString(`\#`)
			if i+1 < len(s) && isDigit(s[i+1]) {
				b.WriteString(joiner)
			}
		case '@':
			b.WriteByte(c)
			if i+1 < len(s) && (isAlnum(s[i+1]) || s[i+1] == '-' || s[i+1] == '_') {
				b.WriteString(joiner)
			}
		case ':':
			b.WriteByte(c)
			if strings.HasPrefix(s[i+1:], "//") {
				b.WriteString(joiner)
			}
		case 'w', 'W':
			if len(s)-i >= 4 && strings.EqualFold(s[i:i+4], "www.") {
				b.WriteString(s[i : i+3])
				b.WriteString(joiner)
				i += 2
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return Markdown(escapeLineStart(b.String()))
}

// escapeLineStart escapes what would start a block (a list item, a setext
// underline, a thematic break) if the text began a line, as a note does.
func escapeLineStart(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '-', '+', '=':
		return `\` + s
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') {
		return s[:i] + `\` + s[i:]
	}
	return s
}

// Code renders s as an inline code span: shown verbatim (on one line), with
// delimiters longer than any backtick run in s so s cannot close it.
func Code(s string) Markdown { return code(s, false) }

// TableCode is Code for a table cell, where GitHub splits cells on '|'
// even inside code spans.
func TableCode(s string) Markdown { return code(s, true) }

func code(s string, cell bool) Markdown {
	// Block structure is parsed before inline spans: a newline would let
	// the next line start a heading or a fence. Control bytes go too.
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if strings.TrimSpace(s) == "" {
		return Text(s)
	}
	if cell {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	delim := strings.Repeat("`", longestRun(s, '`')+1)
	// CommonMark strips one space from each end when both are spaces, and
	// a backtick next to the delimiter would lengthen it: pad.
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ') {
		s = " " + s + " "
	}
	return Markdown(delim + s + delim)
}

// Note renders a line of tfpr's own prose that may quote untrusted
// strings: text between single backticks becomes a code span, "PR #12"
// stays a link to that pull request, everything else is Text. A PR can at
// most make such a link to another issue of the same repository: no ping,
// no outside address.
func Note(s string) Markdown {
	var b strings.Builder
	for s != "" {
		open := strings.IndexByte(s, '`')
		if open < 0 {
			b.WriteString(string(prose(s)))
			break
		}
		n := runLen(s[open:], '`')
		end, ok := closingRun(s[open+n:], n)
		if !ok {
			b.WriteString(string(prose(s)))
			break
		}
		b.WriteString(string(prose(s[:open])))
		span := s[open+n : open+n+end]
		// As in CommonMark, one space inside each delimiter is padding.
		if len(span) >= 2 && span[0] == ' ' && span[len(span)-1] == ' ' {
			span = span[1 : len(span)-1]
		}
		b.WriteString(string(Code(span)))
		s = s[open+n+end+n:]
	}
	return Markdown(b.String())
}

// runLen counts the leading c bytes of s.
func runLen(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// closingRun finds the next run of exactly n backticks in s, which closes
// a code span opened by n backticks.
func closingRun(s string, n int) (int, bool) {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		r := runLen(s[i:], '`')
		if r == n {
			return i, true
		}
		i += r
	}
	return 0, false
}

// prose is Text that keeps "PR #<number>" references live.
func prose(s string) Markdown {
	var b strings.Builder
	for {
		i := strings.Index(s, "PR #")
		j := i + len("PR #")
		for i >= 0 && j < len(s) && isDigit(s[j]) {
			j++
		}
		if i < 0 || j == i+len("PR #") || (j < len(s) && isAlnum(s[j])) {
			if i >= 0 { // not a reference: escape through the "#" and go on
				b.WriteString(string(spaced(s[:j])))
				s = s[j:]
				continue
			}
			b.WriteString(string(spaced(s)))
			return Markdown(b.String())
		}
		b.WriteString(string(spaced(s[:i])))
		b.WriteString(s[i:j])
		s = s[j:]
	}
}

// spaced is Text keeping one space at either end where s had whitespace,
// for a piece of a line between code spans and references.
func spaced(s string) Markdown {
	t := Text(s)
	if t == "" {
		if s != "" {
			return " "
		}
		return t
	}
	if isSpace(s[0]) {
		t = " " + t
	}
	if isSpace(s[len(s)-1]) {
		t += " "
	}
	return t
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Fence returns a code fence for text: longer than any backtick run in it,
// so no line of text can close the block.
func Fence(text string) string {
	return strings.Repeat("`", max(3, longestRun(text, '`')+1))
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// HTML renders s as text inside an HTML element (a <summary>): escaped, on
// one line, with mentions, issue references and autolinks broken as in Text.
func HTML(s string) Markdown {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		case '`':
			b.WriteString("&#96;")
		case '@', '#':
			b.WriteByte(c)
			if i+1 < len(s) && (isAlnum(s[i+1]) || s[i+1] == '-' || s[i+1] == '_') {
				b.WriteString(joiner)
			}
		case ':':
			b.WriteByte(c)
			if strings.HasPrefix(s[i+1:], "//") {
				b.WriteString(joiner)
			}
		case 'w', 'W':
			if len(s)-i >= 4 && strings.EqualFold(s[i:i+4], "www.") {
				b.WriteString(s[i : i+3])
				b.WriteString(joiner)
				i += 2
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return Markdown(b.String())
}

// BlobLink links text to line of file at commit sha of the repository whose
// web address is repoURL (tfpr's own configuration, never the PR's). The
// file name comes from the PR: each path segment is percent-encoded, so the
// address stays inside that repository's tree and cannot end the link.
func BlobLink(text Markdown, repoURL, sha, file string, line int) Markdown {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		s = url.PathEscape(s)
		s = strings.NewReplacer("(", "%28", ")", "%29", "'", "%27", "!", "%21", "*", "%2A").Replace(s)
		if s == "." || s == ".." {
			s = strings.ReplaceAll(s, ".", "%2E")
		}
		segs[i] = s
	}
	u := strings.TrimSuffix(repoURL, "/") + "/blob/" + url.PathEscape(sha) + "/" + strings.Join(segs, "/")
	if line > 0 {
		u += "#L" + strconv.Itoa(line)
	}
	return Markdown("[" + string(text) + "](" + u + ")")
}
