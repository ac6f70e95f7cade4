package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/open-policy-agent/opa/v1/ast"
)

// LintProject parses the Terraform files of dir and of the local modules it
// calls (repo-relative dirs below root) and evaluates the HCL stage. Parse
// problems and failing policies are returned as deny findings; the error is
// reserved for an unreadable checkout or a cancelled ctx. To lint several
// projects of one checkout, OpenTree reads shared modules only once.
func (e *Engine) LintProject(ctx context.Context, root, dir string, modules []string) ([]Finding, error) {
	t, err := e.OpenTree(ctx, root)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.LintProject(ctx, dir, modules)
}

func (e *Engine) lint(ctx context.Context, c *config) ([]Finding, error) {
	findings := slices.Clone(c.findings)
	results, pe, err := e.evalHCL(ctx, c)
	if err != nil {
		return nil, err
	}
	if pe != nil {
		findings = append(findings, *pe)
	}
	for _, r := range results {
		findings = append(findings, c.finding(r))
	}
	findings = applySuppressions(c.files, findings, e.denyIgnorable)
	// After suppressions: no comment in the PR may lift these.
	findings = append(findings, e.builtin.check(c)...)
	sortFindings(findings)
	return findings, nil
}

// BuildInput returns the HCL-stage input document policies see for dir,
// with the findings for files that could not be parsed. It is the reference
// for policy authors (see policies/README.md).
func BuildInput(ctx context.Context, root, dir string, modules []string) (map[string]any, []Finding, error) {
	// A bare Engine: no caches, no policies, just the reading.
	t, err := (&Engine{}).OpenTree(ctx, root)
	if err != nil {
		return nil, nil, err
	}
	defer t.Close()
	c, err := t.config(ctx, cleanRel(dir), modules)
	if err != nil {
		return nil, nil, err
	}
	doc, err := ast.JSON(c.input())
	if err != nil {
		return nil, nil, fmt.Errorf("convert input of %s: %w", dir, err)
	}
	m, _ := doc.(map[string]any)
	return m, c.findings, nil
}

func cleanRel(p string) string {
	p = path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if p == "." {
		return ""
	}
	return strings.TrimPrefix(p, "/")
}

func unwrap(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// finding turns one policy result into a located Finding.
func (c *config) finding(r result) Finding {
	f := Finding{Rule: r.info.ID, Title: r.info.Title, Severity: r.kind, File: c.dir}
	obj, ok := r.value.(map[string]any)
	if !ok {
		f.Message = resultString(r.value)
		return f
	}
	f.Message = resultString(obj["msg"])
	f.Address, _ = obj["address"].(string)
	f.Attribute, _ = obj["attribute"].(string)
	module, hasModule := obj["module"].(string)
	if b := c.lookup(f.Address, module, hasModule); b != nil {
		f.File, f.Line, f.EndLine = b.file, b.start, b.end
		if f.Attribute != "" {
			if s, e, ok := findAttr(b, strings.Split(f.Attribute, ".")); ok {
				f.Line, f.EndLine = s, e
			}
		}
	}
	if file, ok := obj["file"].(string); ok && file != "" {
		f.File, f.Line, f.EndLine = cleanRel(file), 0, 0
	}
	if n, ok := intValue(obj["line"]); ok && n > 0 {
		f.Line, f.EndLine = n, n
		if e, ok := intValue(obj["end_line"]); ok && e >= n {
			f.EndLine = e
		}
	}
	return f
}

func resultString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func intValue(v any) (int, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(v.String())
		return n, err == nil
	case float64:
		return int(v), true
	case int:
		return v, true
	}
	return 0, false
}

// lookup finds the block for address, preferring the project's own block
// when the policy did not name a module.
func (c *config) lookup(addr, module string, hasModule bool) *rawBlock {
	var first *rawBlock
	for _, p := range c.parts {
		bs := p.index[addr]
		if len(bs) == 0 {
			continue
		}
		if hasModule {
			if p.module == module {
				return bs[0]
			}
			continue
		}
		if p.module == "" {
			return bs[0]
		}
		if first == nil {
			first = bs[0]
		}
	}
	return first
}

// findAttr resolves an attribute path such as "project", "labels.env",
// "allow.ports" or "allow.1.ports" to the most specific known lines.
func findAttr(b *rawBlock, parts []string) (int, int, bool) {
	if a := b.attr(parts[0]); a != nil {
		return a.start, a.end, true
	}
	var nested []*rawBlock
	dynamic := false
	for _, nb := range b.blocks {
		switch {
		case nb.typ == parts[0]:
			nested = append(nested, nb)
		case nb.typ == "dynamic" && len(nb.labels) == 1 && nb.labels[0] == parts[0]:
			// The blocks a dynamic block produces come from its content.
			dynamic = true
			for _, c := range nb.blocks {
				if c.typ == "content" {
					nested = append(nested, c)
				}
			}
		}
	}
	rest := parts[1:]
	if len(rest) > 0 {
		if i, err := strconv.Atoi(rest[0]); err == nil {
			rest = rest[1:]
			switch {
			case i >= 0 && i < len(nested) && !dynamic:
				nested = nested[i : i+1]
			case !dynamic:
				return 0, 0, false
			}
			// With dynamic blocks the index counts produced blocks, not
			// written ones: the first written block that has the path is
			// the best place.
		}
	}
	for _, nb := range nested {
		if len(rest) == 0 {
			return nb.start, nb.end, true
		}
		if s, e, ok := findAttr(nb, rest); ok {
			return s, e, true
		}
	}
	return 0, 0, false
}

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Rule, b.Rule)
	})
}

// ignore is one tfpr:ignore comment.
type ignore struct {
	rules  []string
	reason string
	line   int
}

// ignoreComments returns the tfpr:ignore comments of a native HCL file.
// Lexing (rather than matching text) keeps strings that merely contain the
// marker from suppressing anything.
func ignoreComments(rel string, src []byte) []ignore {
	if strings.HasSuffix(rel, ".json") || !bytes.Contains(src, []byte("tfpr:ignore")) {
		return nil
	}
	toks, _ := hclsyntax.LexConfig(src, rel, hcl.InitialPos)
	var out []ignore
	for _, t := range toks {
		if t.Type != hclsyntax.TokenComment {
			continue
		}
		text := strings.TrimSpace(string(t.Bytes))
		for _, p := range []string{"#", "//", "/*"} {
			text = strings.TrimPrefix(text, p)
		}
		text = strings.TrimSpace(strings.TrimSuffix(text, "*/"))
		rest, ok := strings.CutPrefix(text, "tfpr:ignore")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		ig := ignore{line: t.Range.Start.Line}
		if len(fields) > 0 {
			ig.rules = strings.Split(fields[0], ",")
			ig.reason = strings.Join(fields[1:], " ")
		}
		out = append(out, ig)
	}
	return out
}

// applySuppressions marks findings covered by a tfpr:ignore comment on their
// line or the line above. Comments without a rule id or reason suppress
// nothing and are reported. tfpr's own rules cannot be suppressed, and a
// deny only when the server lists its rule in denyIgnorable: the comment is
// written by the author under review, so by default it can quiet warnings
// but never lift a denial (that takes `tfpr approve` by someone else).
func applySuppressions(files []*sourceFile, findings []Finding, denyIgnorable []string) []Finding {
	byFile := map[string][]ignore{}
	for _, f := range files {
		byFile[f.path] = f.ignores
		for _, ig := range f.ignores {
			if len(ig.rules) == 0 || ig.reason == "" {
				findings = append(findings, Finding{
					Rule: RuleSuppression, Title: "tfpr:ignore without a reason", Severity: SeverityWarn,
					File: f.path, Line: ig.line, EndLine: ig.line,
					Message: "tfpr:ignore needs a rule id and a reason (# tfpr:ignore TFPR001 why this is fine); it suppresses nothing",
				})
			}
		}
	}
	for i := range findings {
		f := &findings[i]
		if f.Line == 0 || f.Rule == RuleParse || f.Rule == RulePolicyError || f.Rule == RuleSuppression || f.Rule == RuleFileRead || f.Rule == RuleUnsafePath ||
			f.Rule == RuleUnsafeFunction || f.Rule == RuleLintTimeout {
			continue
		}
		for _, ig := range byFile[f.File] {
			if ig.reason == "" || (ig.line != f.Line && ig.line != f.Line-1) || !slices.Contains(ig.rules, f.Rule) {
				continue
			}
			if f.Severity == SeverityDeny && !slices.Contains(denyIgnorable, f.Rule) {
				f.Message += " (a tfpr:ignore comment cannot lift this denial; an approver can, or the platform team can make the rule suppressible)"
				break
			}
			f.Suppressed, f.SuppressReason = true, ig.reason
			break
		}
	}
	return findings
}
