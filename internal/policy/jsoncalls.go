package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// jsonCalls lists the judged function calls in a JSON-syntax file. In
// terraform's JSON syntax a string holding ${ or %{ is a template, parsed by
// HCL after JSON has undone its escapes ("${fil\u0065(...)}" calls file), so
// every such string, key or value, is parsed here the same way. Each call
// is placed on its string's line. A file JSON cannot read is denied unless
// the HCL parse already reported it (broken). deep is set when a string's
// template nests too deeply to be parsed at all: HCL itself parses these
// templates when the file's expressions are inspected, so the file must
// go no further.
func jsonCalls(rel string, src []byte, broken bool) (calls []funcCall, out []Finding, deep bool) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	line, last := 1, 0
	deny := func(format string, args ...any) {
		out = append(out, Finding{Rule: RuleParse, Title: "invalid template", Severity: SeverityDeny, File: rel, Line: line, EndLine: line,
			Message: fmt.Sprintf(format, args...)})
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if off := int(dec.InputOffset()); off > last && off <= len(src) {
			line += bytes.Count(src[last:off], []byte{'\n'})
			last = off
		}
		if err != nil {
			if !broken {
				deny("%s: cannot read as JSON: %v", rel, err)
			}
			break
		}
		s, ok := tok.(string)
		if !ok || (!strings.Contains(s, "${") && !strings.Contains(s, "%{")) {
			continue
		}
		if ne := tfsource.CheckNesting([]byte(s), tfsource.Template); ne != nil {
			deny("%s:%d: template string %v", rel, line, ne)
			deep = true
			continue
		}
		expr, diags := hclsyntax.ParseTemplate([]byte(s), rel, hcl.Pos{Line: line, Column: 1})
		if diags.HasErrors() {
			deny("%s:%d: invalid template in a JSON string: %s", rel, line, diags[0].Summary)
			continue
		}
		calls = append(calls, collectCalls(expr, line)...)
	}
	return calls, out, deep
}
