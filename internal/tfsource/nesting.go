package tfsource

import (
	"bytes"
	"fmt"
)

// MaxNesting bounds how deeply a file may nest brackets, interpolations and
// chained unary or conditional operators. The HCL parsers recurse once per
// level, and a Go stack overflow is a fatal error no recover can catch: an
// 800 KB file of "[" would take the whole server down. Real configurations
// stay far below this.
const MaxNesting = 200

// Syntax selects the lexical rules CheckNesting follows.
type Syntax int

const (
	// Config is native HCL syntax (.tf).
	Config Syntax = iota
	// Template is a bare template: a templatefile() template or the
	// string of a JSON-syntax expression.
	Template
	// JSONSyntax is a .tf.json file.
	JSONSyntax
)

// NestingError is a file nested deeper than MaxNesting.
type NestingError struct {
	Line int // where the limit was passed
}

func (e *NestingError) Error() string {
	return fmt.Sprintf("line %d: nested more than %d levels deep (brackets, interpolations, chained operators); tfpr refuses it before parsing, since the HCL parser would exhaust its stack", e.Line, MaxNesting)
}

// frame is one open construct. kind is the opening bracket for ( [ {, or
// 'i' for an interpolation or directive, 's' a quoted string, 'h' a
// heredoc, 't' the body of a bare template.
type frame struct {
	kind   byte
	ops    int    // unary and conditional operators since the last separator
	marker []byte // heredoc
	bol    bool   // heredoc: at the beginning of a line
}

// scanner is one linear pass over a file: every byte is looked at a bounded
// number of times.
type scanner struct {
	src   []byte
	i     int
	line  int
	stack []frame
	depth int // frames plus their operators
}

// CheckNesting returns an error when src nests deeper than
// MaxNesting. It understands strings, heredocs, interpolations and
// comments well enough never to count less than the parser recurses, and
// runs in time linear in len(src).
func CheckNesting(src []byte, syntax Syntax) *NestingError {
	s := &scanner{src: src, line: 1}
	switch syntax {
	case JSONSyntax:
		return s.json()
	case Template:
		s.push(frame{kind: 't'})
	default:
		s.push(frame{kind: '{'})
	}
	for s.i < len(s.src) {
		var ok bool
		switch s.top().kind {
		case 's':
			ok = s.quoted()
		case 'h', 't':
			ok = s.templateBody()
		default:
			ok = s.expr()
		}
		if !ok {
			return &NestingError{Line: s.line}
		}
	}
	return nil
}

func (s *scanner) top() *frame { return &s.stack[len(s.stack)-1] }

func (s *scanner) push(f frame) bool {
	s.stack = append(s.stack, f)
	s.depth++
	return s.depth <= MaxNesting
}

// pop closes the top frame; the outermost one stays.
func (s *scanner) pop() {
	if len(s.stack) > 1 {
		s.depth -= 1 + s.top().ops
		s.stack = s.stack[:len(s.stack)-1]
	}
}

func (s *scanner) op() bool {
	s.top().ops++
	s.depth++
	return s.depth <= MaxNesting
}

func (s *scanner) separator() {
	s.depth -= s.top().ops
	s.top().ops = 0
}

func (s *scanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

// skipTo moves past the first occurrence of end, counting lines; to the
// end of src when there is none.
func (s *scanner) skipTo(end []byte) {
	n := bytes.Index(s.src[s.i:], end)
	if n < 0 {
		n = len(s.src) - s.i
	} else {
		n += len(end)
	}
	s.line += bytes.Count(s.src[s.i:s.i+n], []byte{'\n'})
	s.i += n
}

// expr handles one byte of expression or body syntax.
func (s *scanner) expr() bool {
	c := s.src[s.i]
	f := s.top()
	switch {
	case c == '\n':
		s.line++
		// A newline ends an attribute in a body or an item in an object.
		if f.kind == '{' {
			s.separator()
		}
	case c == '#', c == '/' && s.peek(1) == '/':
		n := bytes.IndexByte(s.src[s.i:], '\n')
		if n < 0 {
			n = len(s.src) - s.i
		}
		s.i += n
		return true
	case c == '/' && s.peek(1) == '*':
		s.i += 2
		s.skipTo([]byte("*/"))
		return true
	case c == '"':
		s.i++
		return s.push(frame{kind: 's'})
	case c == '<' && s.peek(1) == '<':
		if m, n := heredocStart(s.src[s.i:]); m != nil {
			s.i += n
			s.line++
			return s.push(frame{kind: 'h', marker: m, bol: true})
		}
	case c == '[' && s.peek(1) == '*', c == '.' && s.peek(1) == '*':
		// A splat wraps the traversal before it: one more level each.
		if !s.op() {
			return false
		}
		if c == '.' {
			s.i += 2
			return true
		}
		s.i++
		return s.push(frame{kind: c})
	case c == '(' || c == '[' || c == '{':
		s.i++
		return s.push(frame{kind: c})
	case c == ')' && f.kind == '(', c == ']' && f.kind == '[', c == '}' && (f.kind == '{' || f.kind == 'i'):
		s.pop()
	case c == ',':
		s.separator()
	case c == '?', c == '-', c == '!' && s.peek(1) != '=':
		s.i++
		return s.op()
	}
	s.i++
	return true
}

// heredocStart matches <<ID or <<-ID up to and including the newline,
// returning the marker and the length matched.
func heredocStart(b []byte) ([]byte, int) {
	i := 2
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	for i < len(b) && (b[i] == '_' || b[i] == '-' || b[i] >= '0' && b[i] <= '9' || b[i]|0x20 >= 'a' && b[i]|0x20 <= 'z' || b[i] >= 0x80) {
		i++
	}
	if i == start {
		return nil, 0
	}
	marker := b[start:i]
	if i < len(b) && b[i] == '\r' {
		i++
	}
	if i >= len(b) || b[i] != '\n' {
		return nil, 0
	}
	return marker, i + 1
}

// interpolation opens ${ or %{ at s.i, or skips the $${ and %%{ escapes.
// ok is false when the limit is passed; handled is false when s.i starts
// neither.
func (s *scanner) interpolation() (handled, ok bool) {
	c := s.src[s.i]
	if c != '$' && c != '%' {
		return false, true
	}
	switch {
	case s.peek(1) == c && s.peek(2) == '{':
		s.i += 3
		return true, true
	case s.peek(1) == '{':
		if c == '%' && !s.directive() {
			return true, false
		}
		s.i += 2
		return true, s.push(frame{kind: 'i'})
	}
	return false, true
}

// directive counts %{ if } and %{ for } as one more level of the template
// around them, until their %{ endif } or %{ endfor }: the parser recurses
// into each directive's body.
func (s *scanner) directive() bool {
	rest := s.src[s.i+2:]
	rest = rest[:min(len(rest), 16)]
	rest = bytes.TrimLeft(bytes.TrimPrefix(rest, []byte("~")), " \t\r\n")
	word := rest
	if n := bytes.IndexFunc(rest, func(r rune) bool { return !(r >= 'a' && r <= 'z') }); n >= 0 {
		word = rest[:n]
	}
	f := s.top()
	switch string(word) {
	case "if", "for":
		return s.op()
	case "endif", "endfor":
		if f.ops > 0 {
			f.ops--
			s.depth--
		}
	}
	return true
}

// quoted handles one byte of a quoted string.
func (s *scanner) quoted() bool {
	switch s.src[s.i] {
	case '\\':
		s.i += 2
		return true
	case '"':
		s.i++
		s.pop()
		return true
	case '\n':
		// An unterminated string; the parser reports it.
		s.line++
		s.i++
		s.pop()
		return true
	}
	if handled, ok := s.interpolation(); handled {
		return ok
	}
	s.i++
	return true
}

// templateBody handles one byte of a heredoc or bare template.
func (s *scanner) templateBody() bool {
	f := s.top()
	if f.kind == 'h' && f.bol {
		f.bol = false
		end := bytes.IndexByte(s.src[s.i:], '\n')
		if end < 0 {
			end = len(s.src) - s.i
		}
		if bytes.Equal(bytes.TrimSpace(s.src[s.i:s.i+end]), f.marker) {
			s.i += end
			s.pop()
			return true
		}
	}
	if s.src[s.i] == '\n' {
		s.line++
		s.i++
		f.bol = true
		return true
	}
	if handled, ok := s.interpolation(); handled {
		return ok
	}
	s.i++
	return true
}

// json checks JSON syntax: only arrays and objects nest; strings are
// skipped (their templates are checked on their own when parsed).
func (s *scanner) json() *NestingError {
	depth := 0
	for ; s.i < len(s.src); s.i++ {
		switch s.src[s.i] {
		case '\n':
			s.line++
		case '"':
			for s.i++; s.i < len(s.src) && s.src[s.i] != '"' && s.src[s.i] != '\n'; s.i++ {
				if s.src[s.i] == '\\' {
					s.i++
				}
			}
			if s.i < len(s.src) && s.src[s.i] == '\n' {
				s.line++
			}
		case '[', '{':
			if depth++; depth > MaxNesting {
				return &NestingError{Line: s.line}
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}
