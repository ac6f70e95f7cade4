package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// maxModuleDepth bounds how far CheckPlan follows local module calls when
// mapping plan addresses back to HCL.
const maxModuleDepth = 16

// CheckPlan evaluates the plan stage on `terraform show -json` output of the
// project in dir. Findings on resources map back to their HCL block or
// attribute when that exists in dir or a local module it calls. Deny
// findings whose rule is in approved are kept but marked Suppressed with
// reason "approved".
func (e *Engine) CheckPlan(ctx context.Context, root, dir string, planJSON []byte, approved []string) ([]Finding, error) {
	dir = cleanRel(dir)
	dec := json.NewDecoder(bytes.NewReader(planJSON))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode plan JSON of %s: %w", dir, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("decode plan JSON of %s: not an object", dir)
	}
	input, err := ast.InterfaceToValue(doc)
	if err != nil {
		return nil, fmt.Errorf("convert plan JSON of %s: %w", dir, err)
	}
	input.(ast.Object).Insert(str("project"), projectTerm(dir))
	t, err := e.OpenTree(ctx, root)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	c, err := t.planConfig(ctx, dir)
	if err != nil {
		return nil, err
	}
	results, pe, err := e.eval(ctx, StagePlan, input, dir)
	if err != nil {
		return nil, err
	}
	var findings []Finding
	if pe != nil {
		findings = append(findings, *pe)
	}
	for _, r := range results {
		findings = append(findings, c.planFinding(r))
	}
	findings = applySuppressions(c.files, findings, e.denyIgnorable)
	for i := range findings {
		f := &findings[i]
		if f.Severity == SeverityDeny && !f.Suppressed && f.Rule != RulePolicyError && slices.Contains(approved, f.Rule) {
			f.Suppressed, f.SuppressReason = true, "approved"
		}
	}
	// After approvals: `tfpr approve` does not lift these.
	findings = append(findings, e.builtin.checkPlan(c, doc)...)
	sortFindings(findings)
	return findings, nil
}

// planConfig parses dir and follows its local module calls. Mapping is
// best effort: the lint stage already reported anything unparseable.
func (t *Tree) planConfig(ctx context.Context, dir string) (*config, error) {
	df, err := t.read(ctx, dir)
	if err != nil {
		return nil, err
	}
	if df.err != nil {
		return newConfig(dir, nil, nil), nil
	}
	own, err := t.part(ctx, df, "")
	if err != nil {
		return nil, err
	}
	parts := []*modulePart{own}
	seen := map[string]bool{dir: true}
	for range maxModuleDepth {
		var next []string
		for _, p := range parts {
			for _, m := range p.calls {
				if !seen[m] && m != ".." && !strings.HasPrefix(m, "../") {
					seen[m] = true
					next = append(next, m)
				}
			}
		}
		if len(next) == 0 {
			break
		}
		slices.Sort(next)
		for _, m := range next {
			mf, err := t.read(ctx, m)
			if err != nil {
				return nil, err
			}
			if mf.err != nil {
				continue
			}
			p, err := t.part(ctx, mf, m)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
	}
	return newConfig(dir, parts, nil), nil
}

// planFinding maps a plan address such as module.a.google_x.y["k"] to the
// HCL block in the module dir that declares it.
func (c *config) planFinding(r result) Finding {
	obj, ok := r.value.(map[string]any)
	if !ok {
		return c.finding(r)
	}
	planAddr, _ := obj["address"].(string)
	if planAddr == "" {
		return c.finding(r)
	}
	mapped := maps.Clone(obj)
	if addr, module, ok := c.hclAddress(planAddr); ok {
		mapped["address"], mapped["module"] = addr, module
	} else {
		delete(mapped, "address")
	}
	f := c.finding(result{info: r.info, kind: r.kind, value: mapped})
	f.Address = planAddr
	return f
}

// hclAddress strips instance keys and resolves module.<name> steps through
// local module calls.
func (c *config) hclAddress(planAddr string) (string, string, bool) {
	parts := splitAddress(planAddr)
	module := ""
	for len(parts) >= 2 && parts[0] == "module" {
		dir, ok := c.calls(module)[parts[1]]
		if !ok {
			return "", "", false
		}
		module, parts = dir, parts[2:]
	}
	if len(parts) == 0 {
		return "", "", false
	}
	return strings.Join(parts, "."), module, true
}

// splitAddress splits a resource address on dots outside of instance keys,
// dropping the keys: module.a["x.y"].b.c[0] -> [module a b c].
func splitAddress(addr string) []string {
	var parts []string
	var cur strings.Builder
	depth, inStr := 0, false
	for i := 0; i < len(addr); i++ {
		ch := addr[i]
		switch {
		case inStr:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				inStr = false
			}
		case ch == '"' && depth > 0:
			inStr = true
		case ch == '[':
			depth++
		case ch == ']':
			depth--
		case depth > 0:
		case ch == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(parts, cur.String())
}
