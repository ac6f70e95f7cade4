package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func str(s string) *ast.Term { return ast.StringTerm(s) }

func item(k string, v *ast.Term) [2]*ast.Term { return ast.Item(ast.StringTerm(k), v) }

func rangeTerm(start, end int) *ast.Term {
	return ast.ObjectTerm(item("start_line", ast.IntNumberTerm(start)), item("end_line", ast.IntNumberTerm(end)))
}

func stringsTerm(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = str(s)
	}
	return ast.ArrayTerm(ts...)
}

// newAttr captures everything policies and findings need from one
// attribute, so the HCL expression and file bytes can be dropped.
func newAttr(name string, expr hcl.Expression, start, end int, src []byte) *rawAttr {
	a := &rawAttr{name: name, start: start, end: end}
	r := expr.Range()
	text := ""
	if r.Start.Byte >= 0 && r.End.Byte <= len(src) && r.Start.Byte <= r.End.Byte {
		text = string(src[r.Start.Byte:r.End.Byte])
	}
	vars := expr.Variables()
	refs := make([]string, len(vars))
	for i, t := range vars {
		refs[i] = traversalString(t)
	}
	items := [][2]*ast.Term{item("expr", str(text)), item("refs", stringsTerm(refs)), item("range", rangeTerm(start, end))}
	if len(vars) == 0 {
		if v, ok := staticValue(expr); ok {
			if av, err := ast.InterfaceToValue(v); err == nil {
				a.value, a.hasValue = v, true
				items = append(items, item("value", ast.NewTerm(av)))
			}
		}
	}
	if name == "provider" {
		if t, d := hcl.AbsTraversalForExpr(expr); !d.HasErrors() && len(t) > 0 {
			a.root = t.RootName()
		}
	}
	a.term = ast.ObjectTerm(items...)
	return a
}

// finish builds the block's Rego parts once its attributes and nested
// blocks are complete.
func (b *rawBlock) finish() {
	attrs := make([][2]*ast.Term, len(b.attrs))
	for i, a := range b.attrs {
		attrs[i] = item(a.name, a.term)
	}
	b.attrsTerm = ast.ObjectTerm(attrs...)
	nested := make([]*ast.Term, len(b.blocks))
	for i, nb := range b.blocks {
		nested[i] = nb.nestedTerm
	}
	b.blocksTerm = ast.ArrayTerm(nested...)
	b.nestedTerm = ast.ObjectTerm(
		item("type", str(b.typ)), item("labels", stringsTerm(b.labels)),
		item("range", rangeTerm(b.start, b.end)),
		item("attributes", b.attrsTerm), item("blocks", b.blocksTerm),
	)
}

// staticValue evaluates expressions that need no variables or functions;
// anything else has no static value and policies see only expr and refs.
func staticValue(expr hcl.Expression) (any, bool) {
	if len(expr.Variables()) > 0 {
		return nil, false
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return nil, false
	}
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, false
	}
	return out, true
}

func traversalString(t hcl.Traversal) string {
	var sb strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString(".")
			sb.WriteString(s.Name)
		case hcl.TraverseIndex:
			switch {
			case !s.Key.IsKnown() || s.Key.IsNull():
				sb.WriteString("[?]")
			case s.Key.Type() == cty.String:
				fmt.Fprintf(&sb, "[%q]", s.Key.AsString())
			case s.Key.Type() == cty.Number:
				sb.WriteString("[" + s.Key.AsBigFloat().Text('f', -1) + "]")
			default:
				sb.WriteString("[?]")
			}
		case hcl.TraverseSplat:
			sb.WriteString("[*]")
		}
	}
	return sb.String()
}
