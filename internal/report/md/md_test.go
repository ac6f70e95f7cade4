package md

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// render is GitHub-flavoured markdown (tables, strikethrough, autolinks)
// with raw HTML passed through, as GitHub passes its safe subset.
func render(t testing.TB, src string) string {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := gm.Convert([]byte(src), &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

var tags = regexp.MustCompile(`<[^>]*>`)

// hostile are strings a PR can put in a file name, a message or a reason.
var hostile = []string{
	"@acme/team please approve",
	"![x](http://evil.example/p.png)",
	"<img src=x onerror=alert(1)>",
	"[link](http://x) and <http://y> and https://z.example/a and www.evil.example",
	"see #123 and acme/infra#9 and mail me@evil.example",
	"*bold* _em_ ~~gone~~ `code` | a | b |",
	"# heading\n\n- list\n1. item\n> quote\n```\nfence\n```",
	"&#64;acme/team &lt;b&gt; \\*not\\*",
	"- starts a list", "1. starts a list", "=====", "$x^2$",
	"google_storage_bucket.b",
}

// Text must show exactly its input's characters (whitespace collapsed),
// as one paragraph with no element but the paragraph itself.
func TestTextRendersAsItsCharacters(t *testing.T) {
	for _, s := range hostile {
		out := render(t, string(Text(s)))
		inner, ok := strings.CutPrefix(strings.TrimSpace(out), "<p>")
		inner, ok2 := strings.CutSuffix(inner, "</p>")
		if !ok || !ok2 || tags.MatchString(inner) {
			t.Errorf("Text(%q) renders to more than a paragraph of text:\n%s", s, out)
			continue
		}
		got := strings.ReplaceAll(html.UnescapeString(inner), joiner, "")
		if want := strings.Join(strings.Fields(s), " "); got != want {
			t.Errorf("Text(%q) shows %q, want %q", s, got, want)
		}
		if m := inertText.FindString(html.UnescapeString(inner)); m != "" {
			t.Errorf("Text(%q) leaves %q for GitHub to link:\n%s", s, m, out)
		}
	}
}

// inertText matches what GitHub turns into mentions, issue references and
// links in text, beyond markdown itself.
var inertText = regexp.MustCompile(`@[A-Za-z0-9_-]|#[0-9]|://|(?i)www\.`)

func TestCodeShowsItsInputVerbatim(t *testing.T) {
	for _, s := range append(hostile, "a ``` b", "`x`", "``", " padded ", "a|b") {
		want := strings.Map(func(r rune) rune {
			if r < 0x20 {
				return ' '
			}
			return r
		}, s)
		out := strings.TrimSpace(render(t, string(Code(s))))
		inner, ok := strings.CutPrefix(out, "<p><code>")
		inner, ok2 := strings.CutSuffix(inner, "</code></p>")
		if !ok || !ok2 || html.UnescapeString(inner) != want {
			t.Errorf("Code(%q) renders to %s, want one code span of %q", s, out, want)
		}
	}
}

func TestTableCodeKeepsTheRow(t *testing.T) {
	src := "| a | b |\n|---|---|\n| " + string(TableCode("x|y`z")) + " | ok |\n"
	out := render(t, src)
	if !strings.Contains(out, "<td><code>x|y`z</code></td>\n<td>ok</td>") {
		t.Errorf("a '|' in a table cell split the row:\n%s", out)
	}
}

func TestNoteKeepsCodeSpansAndPRLinksOnly(t *testing.T) {
	got := string(Note("Apply is held: comment `tfpr apply` on PR #4 for @acme/team, see `" + "[x](http://e)` " + "**now** #5 PR #6x"))
	want := "Apply is held: comment `tfpr apply` on PR #4 for @\u200dacme/team, see `[x](http://e)` \\*\\*now\\*\\* \\#\u200d5 PR \\#\u200d6x"
	if got != want {
		t.Errorf("Note =\n%q\nwant\n%q", got, want)
	}
}

func TestFenceLongerThanAnyBacktickRun(t *testing.T) {
	for text, want := range map[string]string{"plain": "```", "a ``` b": "````", "`````": "``````"} {
		if got := Fence(text); got != want {
			t.Errorf("Fence(%q) = %q, want %q", text, got, want)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\x00\r") || !isPrintableASCII(s) {
			t.Skip() // the renderer normalises these; the property is about markup
		}
		out := render(t, string(Text(s)))
		if want := strings.Join(strings.Fields(s), " "); want == "" {
			return
		}
		inner, ok := strings.CutPrefix(strings.TrimSpace(out), "<p>")
		inner, ok2 := strings.CutSuffix(inner, "</p>")
		if !ok || !ok2 || tags.MatchString(inner) {
			t.Fatalf("Text(%q) renders markup:\n%s", s, out)
		}
	})
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 && s[i] != '\n' && s[i] != '\t' || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Notes built with a longer delimiter (for values holding backticks) keep
// the whole value in one code span, without the padding.
func TestNoteTakesLongerDelimiters(t *testing.T) {
	for in, want := range map[string]string{
		"value `` a`b `` changed": "value ``a`b`` changed",
		"`` x `` → ` y `":         "`x` → `y`",
		"open `` never closed `":  "open \\`\\` never closed \\`",
	} {
		if got := string(Note(in)); got != want {
			t.Errorf("Note(%q) = %q, want %q", in, got, want)
		}
	}
}
