package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func str(s string) *ast.Term { return ast.StringTerm(s) }

func item(k string, v *ast.Term) [2]*ast.Term { return ast.Item(ast.InternedTerm(k), v) }

// termKit holds the terms parsed files share: the keys of the input
// document's objects, empty collections, and ranges and attributes seen
// before (a line range, or an attribute with the same source text on the
// same lines, has the same term wherever it occurs). Terms are never
// modified once built, so one kit serves every file and goroutine of a
// Tree; sharing them keeps parsed files small.
// maxSharedAttrs bounds termKit.attrs; past it the map starts over.
const maxSharedAttrs = 1 << 14

type termKit struct {
	keys        map[string]*ast.Term // read-only after newTermKit
	emptyArray  *ast.Term
	emptyObject *ast.Term
	ranges      sync.Map // [2]int -> *ast.Term
	// attrs shares the terms of attributes written alike (copied files,
	// repeated arguments); nAttrs bounds it, so memory follows what is
	// linted now rather than everything the checkout holds.
	attrs  sync.Map // attrKey -> *attrTerms
	nAttrs atomic.Int64
	// funcs is the function table of value evaluation (see values.go),
	// immutable and shared.
	funcs map[string]function.Function
}

// attrKey identifies an attribute's term: its expression's source text,
// syntax and lines.
type attrKey struct {
	text       string
	json       bool
	start, end int
	provider   bool // the provider meta-argument, whose root is kept
}

type attrTerms struct {
	term, value *ast.Term
	root        string
}

func newTermKit(funcs map[string]function.Function) *termKit {
	if funcs == nil {
		funcs = guardedFuncs()
	}
	k := &termKit{keys: map[string]*ast.Term{}, emptyArray: ast.ArrayTerm(), emptyObject: ast.ObjectTerm(), funcs: funcs}
	for _, name := range []string{
		"expr", "refs", "range", "value", "start_line", "end_line",
		"type", "name", "labels", "address", "file", "module", "attributes", "blocks",
		"provider", "provider_source", "check", "source", "version", "local", "dir", "alias",
		"instances", "values", "unknown",
	} {
		k.keys[name] = ast.StringTerm(name)
	}
	return k
}

func (k *termKit) item(key string, v *ast.Term) [2]*ast.Term {
	if t, ok := k.keys[key]; ok {
		return [2]*ast.Term{t, v}
	}
	return [2]*ast.Term{ast.StringTerm(key), v}
}

func (k *termKit) rangeTerm(start, end int) *ast.Term {
	if t, ok := k.ranges.Load([2]int{start, end}); ok {
		return t.(*ast.Term)
	}
	t := ast.ObjectTerm(k.item("start_line", ast.InternedTerm(start)), k.item("end_line", ast.InternedTerm(end)))
	actual, _ := k.ranges.LoadOrStore([2]int{start, end}, t)
	return actual.(*ast.Term)
}

func (k *termKit) strings(ss []string) *ast.Term {
	if len(ss) == 0 {
		return k.emptyArray
	}
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = str(s)
	}
	return ast.ArrayTerm(ts...)
}

// newAttr captures everything policies and findings need from one
// attribute, so the HCL expression and file bytes can be dropped.
func (fp *fileParse) newAttr(name string, expr hcl.Expression, start, end int) *rawAttr {
	k := fp.kit
	a := &rawAttr{name: name, start: start, end: end}
	r := expr.Range()
	var text []byte
	if r.Start.Byte >= 0 && r.End.Byte <= len(fp.src) && r.Start.Byte <= r.End.Byte {
		text = fp.src[r.Start.Byte:r.End.Byte]
	}
	key := attrKey{text: string(text), json: fp.json, start: start, end: end, provider: name == "provider"}
	if at, ok := k.attrs.Load(key); ok {
		at := at.(*attrTerms)
		a.term, a.value, a.root = at.term, at.value, at.root
	} else {
		fp.buildAttr(a, key.text, expr)
		if k.nAttrs.Add(1) > maxSharedAttrs {
			k.attrs.Clear()
			k.nAttrs.Store(0)
		}
		k.attrs.LoadOrStore(key, &attrTerms{term: a.term, value: a.value, root: a.root})
	}
	if a.value == nil {
		a.expr = expr
	}
	return a
}

func (fp *fileParse) buildAttr(a *rawAttr, text string, expr hcl.Expression) {
	k, name, start, end := fp.kit, a.name, a.start, a.end
	vars := expr.Variables()
	refs := k.emptyArray
	if len(vars) > 0 {
		ts := make([]*ast.Term, len(vars))
		for i, t := range vars {
			ts[i] = str(traversalString(t))
		}
		refs = ast.ArrayTerm(ts...)
	}
	items := make([][2]*ast.Term, 3, 4)
	items[0], items[1], items[2] = k.item("expr", str(text)), k.item("refs", refs), k.item("range", k.rangeTerm(start, end))
	if len(vars) == 0 {
		if v, ok := staticValue(expr); ok {
			a.value = ast.NewTerm(v)
			items = append(items, k.item("value", a.value))
		}
	}
	if name == "provider" {
		if t, d := hcl.AbsTraversalForExpr(expr); !d.HasErrors() && len(t) > 0 {
			a.root = t.RootName()
		}
	}
	a.term = ast.ObjectTerm(items...)
}

// finish builds the block's Rego parts once its attributes and nested
// blocks are complete. Only nested blocks and terraform blocks are ever
// seen in nested form.
func (k *termKit) finish(b *rawBlock, nested bool) {
	b.attrsTerm = k.emptyObject
	if len(b.attrs) > 0 {
		attrs := make([][2]*ast.Term, len(b.attrs))
		for i, a := range b.attrs {
			attrs[i] = item(a.name, a.term)
		}
		b.attrsTerm = ast.ObjectTerm(attrs...)
	}
	b.blocksTerm = k.emptyArray
	if len(b.blocks) > 0 {
		ts := make([]*ast.Term, len(b.blocks))
		for i, nb := range b.blocks {
			ts[i] = nb.nestedTerm
		}
		b.blocksTerm = ast.ArrayTerm(ts...)
	}
	b.rangeTerm = k.rangeTerm(b.start, b.end)
	if nested || b.typ == "terraform" {
		b.nestedTerm = ast.ObjectTerm(
			k.item("type", str(b.typ)), k.item("labels", k.strings(b.labels)),
			k.item("range", b.rangeTerm),
			k.item("attributes", b.attrsTerm), k.item("blocks", b.blocksTerm),
		)
	}
}

// staticValue evaluates expressions that need no variables or functions;
// anything else has no static value and policies see only expr and refs.
// The caller has checked that expr has no variables. The value is what
// terraform would print as JSON.
func staticValue(expr hcl.Expression) (ast.Value, bool) {
	// A context, even an empty one: without one, JSON syntax takes a
	// "${...}" string literally, where terraform evaluates the template.
	v, diags := expr.Value(&hcl.EvalContext{})
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return nil, false
	}
	if av, ok := ctyValue(v, v.Type()); ok {
		return av, true
	}
	return jsonValue(v)
}

// ctyValue converts the values HCL literals produce without a JSON round
// trip. It gives up (ok false) on anything the JSON encoding would treat
// specially, and jsonValue then decides.
func ctyValue(v cty.Value, t cty.Type) (ast.Value, bool) {
	if v.IsMarked() || !v.IsKnown() || t == cty.DynamicPseudoType && v.Type() != cty.DynamicPseudoType {
		return nil, false
	}
	if v.IsNull() {
		return ast.Null{}, true
	}
	switch {
	case t == cty.String:
		s := v.AsString()
		if !utf8.ValidString(s) {
			return nil, false
		}
		return ast.String(s), true
	case t == cty.Number:
		if v.RawEquals(cty.PositiveInfinity) || v.RawEquals(cty.NegativeInfinity) {
			return nil, false
		}
		return ast.Number(numberText(v.AsBigFloat())), true
	case t == cty.Bool:
		return ast.Boolean(v.True()), true
	case t.IsListType(), t.IsSetType(), t.IsTupleType():
		terms := make([]*ast.Term, 0, v.LengthInt())
		var etys []cty.Type
		if t.IsTupleType() {
			etys = t.TupleElementTypes()
		}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			ety := cty.DynamicPseudoType
			if etys != nil {
				ety = etys[len(terms)]
			} else {
				ety = t.ElementType()
			}
			a, ok := ctyValue(ev, ety)
			if !ok {
				return nil, false
			}
			terms = append(terms, ast.NewTerm(a))
		}
		return ast.NewArray(terms...), true
	case t.IsObjectType(), t.IsMapType():
		items := make([][2]*ast.Term, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			ety := cty.DynamicPseudoType
			if t.IsObjectType() {
				ety = t.AttributeType(k.AsString())
			} else {
				ety = t.ElementType()
			}
			a, ok := ctyValue(ev, ety)
			if !ok || !utf8.ValidString(k.AsString()) {
				return nil, false
			}
			items = append(items, item(k.AsString(), ast.NewTerm(a)))
		}
		return ast.NewObject(items...), true
	}
	return nil, false
}

// numberText formats n as cty's JSON encoding does, with a shortcut for
// the integers most attributes hold.
func numberText(n *big.Float) string {
	if n.IsInt() && (n.Sign() != 0 || !n.Signbit()) {
		if i, acc := n.Int64(); acc == big.Exact {
			return strconv.FormatInt(i, 10)
		}
	}
	return n.Text('f', -1)
}

// jsonValue is the general conversion: the value as terraform would print
// it in JSON.
func jsonValue(v cty.Value) (ast.Value, bool) {
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
	av, err := ast.InterfaceToValue(out)
	if err != nil {
		return nil, false
	}
	return av, true
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
