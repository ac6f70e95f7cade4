package policy

import (
	"math/big"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// evaluator computes what lint can know of a module's attribute values, as
// terraform would evaluate them: variables (defaults, then the project's
// vars files), locals, path and terraform.workspace, literal count and
// for_each, dynamic blocks and pure functions. Anything else (resources,
// data sources, module outputs, other functions, values over the limits)
// is unknown. The result of a block is its instances' values in the shape
// `terraform show -json` gives a planned resource, so one rule reads both.
type evaluator struct {
	kit    *termKit
	budget *budget
	ctx    *hcl.EvalContext

	locals     map[string]*rawAttr
	localVals  map[string]cty.Value
	localState map[string]uint8 // 1 evaluating, 2 done

	// facts remembers what evalExpr checks of each native expression:
	// every instance of a for_each evaluates the same expressions, so the
	// walks that check them need not be repeated for each.
	facts map[hclsyntax.Expression]*exprFacts
}

// exprFacts is what evaluating an expression needs to know first.
type exprFacts struct {
	within bool     // exprWithinLimits
	roots  []string // the root names of its variables
}

func (ev *evaluator) factsOf(expr hcl.Expression) *exprFacts {
	se, native := expr.(hclsyntax.Expression)
	if native {
		if f, ok := ev.facts[se]; ok {
			return f
		}
	}
	f := &exprFacts{within: exprWithinLimits(expr)}
	if f.within {
		for _, t := range expr.Variables() {
			if root := t.RootName(); !slices.Contains(f.roots, root) {
				f.roots = append(f.roots, root)
			}
		}
	}
	if native {
		if ev.facts == nil {
			ev.facts = map[hclsyntax.Expression]*exprFacts{}
		}
		ev.facts[se] = f
	}
	return f
}

// newEvaluator prepares module p's context. Variables of a local module
// are unknown unless they have a default: one module part serves every
// caller, so the callers' arguments reach it only at plan.
func newEvaluator(p *modulePart, vars []*varsFile) *evaluator {
	ev := &evaluator{kit: p.kit, budget: newBudget(), locals: map[string]*rawAttr{},
		localVals: map[string]cty.Value{}, localState: map[string]uint8{}}
	ev.ctx = &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: p.kit.funcs}
	given := map[string]cty.Value{}
	if p.module == "" {
		for _, vf := range vars {
			for _, name := range vf.names {
				given[name] = vf.vals[name]
			}
		}
	}
	varVals := map[string]cty.Value{}
	for _, f := range p.files {
		for _, b := range f.blocks {
			switch {
			case b.typ == "variable" && len(b.labels) == 1:
				varVals[b.labels[0]] = ev.variable(b, given)
			case b.typ == "locals":
				for _, a := range b.attrs {
					ev.locals[a.name] = a
				}
			}
		}
	}
	module := cty.StringVal(".")
	if p.module != "" {
		// Relative to the caller, which a shared part does not know.
		module = cty.UnknownVal(cty.String)
	}
	ev.ctx.Variables["var"] = cty.ObjectVal(varVals)
	ev.ctx.Variables["path"] = cty.ObjectVal(map[string]cty.Value{
		"module": module, "root": cty.StringVal("."), "cwd": cty.UnknownVal(cty.String),
	})
	ev.ctx.Variables["terraform"] = cty.ObjectVal(map[string]cty.Value{"workspace": cty.StringVal("default")})
	names := make([]string, 0, len(ev.locals))
	for name := range ev.locals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ev.local(name, 0)
	}
	ev.ctx.Variables["local"] = cty.ObjectVal(ev.localVals)
	return ev
}

// variable is a variable's value: the vars files' value, else its default,
// converted to its type; unknown without either.
func (ev *evaluator) variable(b *rawBlock, given map[string]cty.Value) (out cty.Value) {
	defer func() {
		if r := recover(); r != nil {
			out = cty.DynamicVal
		}
	}()
	v, ok := given[b.labels[0]]
	if !ok {
		a := b.attr("default")
		if a == nil {
			return cty.DynamicVal
		}
		v = ev.eval(a, ev.ctx)
	}
	if a := b.attr("type"); a != nil && a.expr != nil && v.IsWhollyKnown() {
		ty, diags := typeexpr.TypeConstraint(a.expr)
		if diags.HasErrors() {
			return v
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			return cty.DynamicVal
		}
		return cv
	}
	return v
}

// local evaluates one local after the locals it refers to, depth first.
// A cycle or a chain deeper than maxLocalDepth is unknown.
func (ev *evaluator) local(name string, depth int) cty.Value {
	switch ev.localState[name] {
	case 2:
		return ev.localVals[name]
	case 1:
		return cty.DynamicVal
	}
	a := ev.locals[name]
	if a == nil || depth > maxLocalDepth {
		return cty.DynamicVal
	}
	ev.localState[name] = 1
	refs := map[string]cty.Value{}
	if a.expr != nil {
		for _, t := range a.expr.Variables() {
			if t.RootName() != "local" || len(t) < 2 {
				continue
			}
			if step, ok := t[1].(hcl.TraverseAttr); ok {
				refs[step.Name] = ev.local(step.Name, depth+1)
			}
		}
	}
	ctx := ev.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(refs)}
	v := ev.eval(a, ctx)
	ev.localVals[name], ev.localState[name] = v, 2
	return v
}

// eval evaluates one attribute; unknown when it cannot be known at lint.
func (ev *evaluator) eval(a *rawAttr, ctx *hcl.EvalContext) cty.Value {
	if a.expr == nil {
		if a.value == nil {
			return cty.DynamicVal
		}
		// A literal: its JSON form is its value.
		v, err := termToCty(a.value, 0)
		if err != nil {
			return cty.DynamicVal
		}
		return v
	}
	if _, native := a.expr.(hclsyntax.Expression); !native && !jsonWithinLimits(a) {
		return cty.DynamicVal
	}
	return ev.evalExpr(a.expr, ctx)
}

// jsonWithinLimits bounds a JSON attribute by its source text, since its
// templates are only parsed as they are evaluated: the same limits as
// native syntax, counted in bytes rather than syntax nodes.
func jsonWithinLimits(a *rawAttr) bool {
	obj, ok := a.term.Value.(ast.Object)
	if !ok {
		return false
	}
	text, ok := termString(obj.Get(ast.InternedTerm("expr")))
	if !ok || len(text) > maxExprNodes*8 {
		return false
	}
	fors := strings.Count(text, "for ")
	return fors == 0 || (fors == 1 && len(text) <= maxForNodes*8)
}

func (ev *evaluator) evalExpr(expr hcl.Expression, ctx *hcl.EvalContext) (v cty.Value) {
	if ev.budget.spent() {
		return cty.DynamicVal
	}
	facts := ev.factsOf(expr)
	if !facts.within {
		return cty.DynamicVal
	}
	// References to what is unknown at lint (resources, data, modules,
	// self, each and count outside instances) are unknown values rather
	// than errors, so the known parts of the expression survive.
	var missing map[string]cty.Value
	for _, root := range facts.roots {
		if !hasVariable(ctx, root) {
			if missing == nil {
				missing = map[string]cty.Value{}
			}
			missing[root] = cty.DynamicVal
		}
	}
	if missing != nil {
		ctx = ctx.NewChild()
		ctx.Variables = missing
	}
	defer func() {
		if r := recover(); r != nil {
			v = cty.DynamicVal
		}
	}()
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	v, _ = v.UnmarkDeep()
	return ev.budget.bound(v)
}

func hasVariable(ctx *hcl.EvalContext, name string) bool {
	for c := ctx; c != nil; c = c.Parent() {
		if _, ok := c.Variables[name]; ok {
			return true
		}
	}
	return false
}

// exprWithinLimits bounds an expression's size before it runs. A for
// expression is the way to repeat work, so an expression may hold one,
// and then only a small one.
func exprWithinLimits(expr hcl.Expression) bool {
	se, ok := expr.(hclsyntax.Expression)
	if !ok {
		return true // JSON: see jsonWithinLimits
	}
	nodes, fors := 0, 0
	hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		nodes++
		if _, ok := n.(*hclsyntax.ForExpr); ok {
			fors++
		}
		return nil
	})
	if nodes > maxExprNodes {
		return false
	}
	return fors == 0 || (fors == 1 && nodes <= maxForNodes)
}

// termToCty converts a literal's JSON term back to the value HCL gives it.
func termToCty(t *ast.Term, depth int) (cty.Value, error) {
	if depth > maxValueDepth {
		return cty.DynamicVal, errTooLarge
	}
	switch v := t.Value.(type) {
	case ast.Null:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case ast.Boolean:
		return cty.BoolVal(bool(v)), nil
	case ast.String:
		return cty.StringVal(string(v)), nil
	case ast.Number:
		f, ok := new(big.Float).SetPrec(512).SetString(string(v))
		if !ok {
			return cty.DynamicVal, errTooLarge
		}
		return cty.NumberVal(f), nil
	case *ast.Array:
		vals := make([]cty.Value, 0, v.Len())
		var err error
		v.Foreach(func(e *ast.Term) {
			if err != nil {
				return
			}
			var cv cty.Value
			cv, err = termToCty(e, depth+1)
			vals = append(vals, cv)
		})
		if err != nil {
			return cty.DynamicVal, err
		}
		return cty.TupleVal(vals), nil
	case ast.Object:
		vals := map[string]cty.Value{}
		var err error
		v.Foreach(func(k, e *ast.Term) {
			ks, ok := k.Value.(ast.String)
			if err != nil || !ok {
				return
			}
			vals[string(ks)], err = termToCty(e, depth+1)
		})
		if err != nil {
			return cty.DynamicVal, err
		}
		return cty.ObjectVal(vals), nil
	}
	return cty.DynamicVal, errTooLarge
}

// Arguments and nested blocks that belong to terraform, not to the
// resource: they are no part of a block's values.
var (
	resourceMeta = map[string]bool{"count": true, "for_each": true, "provider": true, "depends_on": true}
	moduleMeta   = map[string]bool{"count": true, "for_each": true, "providers": true, "depends_on": true, "source": true, "version": true}
	providerMeta = map[string]bool{"alias": true}
	metaBlocks   = map[string]bool{"lifecycle": true, "provisioner": true, "connection": true}
)

// instancesTerm is the list of a block's instances, each
// {"type", "name", "address", "module", "values", "unknown"}: one per
// literal count or for_each element, else one whose count.index or each
// is unknown.
// Each instance also carries the block's type, name, address and module,
// so it is the normalized shape lib.rego gives rules without building it
// in Rego.
func (ev *evaluator) instancesTerm(b *rawBlock, skip map[string]bool, typ, name, addr, module string) (out *ast.Term) {
	k := ev.kit
	typT, nameT, addrT, modT := str(typ), str(name), str(addr), str(module)
	defer func() {
		// Evaluation never takes the server down: a block that cannot be
		// evaluated is one instance whose every attribute is unknown.
		if r := recover(); r != nil {
			var unks [][2]*ast.Term
			for _, a := range b.attrs {
				if !skip[a.name] {
					unks = append(unks, k.item(a.name, ast.InternedTerm(true)))
				}
			}
			out = ast.ArrayTerm(ast.ObjectTerm(k.item("type", typT), k.item("name", nameT), k.item("address", addrT),
				k.item("module", modT), k.item("values", k.emptyObject), k.item("unknown", ast.ObjectTerm(unks...))))
		}
	}()
	ctxs := ev.instanceContexts(b)
	terms := make([]*ast.Term, len(ctxs))
	for i, ctx := range ctxs {
		vals, unk := ev.body(b, ctx, skip, 0)
		terms[i] = ast.ObjectTerm(k.item("type", typT), k.item("name", nameT), k.item("address", addrT),
			k.item("module", modT), k.item("values", vals), k.item("unknown", unk))
	}
	return ast.ArrayTerm(terms...)
}

func (ev *evaluator) instanceContexts(b *rawBlock) []*hcl.EvalContext {
	with := func(name string, v cty.Value) *hcl.EvalContext {
		c := ev.ctx.NewChild()
		c.Variables = map[string]cty.Value{name: v}
		return c
	}
	if a := b.attr("count"); a != nil {
		v := ev.eval(a, ev.ctx)
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.Number {
			n, acc := v.AsBigFloat().Int64()
			if acc == big.Exact && n >= 0 && n <= maxInstances {
				out := make([]*hcl.EvalContext, n)
				for i := range out {
					out[i] = with("count", cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))}))
				}
				return out
			}
		}
		return []*hcl.EvalContext{with("count", cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)}))}
	}
	if a := b.attr("for_each"); a != nil {
		v := ev.eval(a, ev.ctx)
		t := v.Type()
		if v.IsKnown() && !v.IsNull() && (t.IsMapType() || t.IsObjectType() || t.IsSetType()) && v.LengthInt() <= maxInstances {
			var out []*hcl.EvalContext
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				if !k.IsKnown() || k.Type() != cty.String {
					out = nil
					break
				}
				out = append(out, with("each", cty.ObjectVal(map[string]cty.Value{"key": k, "value": e})))
			}
			if out != nil || v.LengthInt() == 0 {
				return out
			}
		}
		return []*hcl.EvalContext{with("each", cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal}))}
	}
	return []*hcl.EvalContext{ev.ctx}
}

// body is a block's values and unknown mask: attributes by name, nested
// blocks (dynamic ones expanded) as lists by type.
func (ev *evaluator) body(b *rawBlock, ctx *hcl.EvalContext, skip map[string]bool, depth int) (vals, unk *ast.Term) {
	var items, unks [][2]*ast.Term
	for _, a := range b.attrs {
		if skip[a.name] {
			continue
		}
		if a.expr == nil && a.value != nil {
			items = append(items, ev.kit.item(a.name, a.value))
			continue
		}
		v, u := valueTerms(ev.eval(a, ctx), 0)
		if v != nil {
			items = append(items, ev.kit.item(a.name, v))
		}
		if u != nil {
			unks = append(unks, ev.kit.item(a.name, u))
		}
	}
	var order []string
	groups := map[string]*blockGroup{}
	get := func(typ string) *blockGroup {
		g := groups[typ]
		if g == nil {
			g = &blockGroup{}
			groups[typ] = g
			order = append(order, typ)
		}
		return g
	}
	for _, nb := range b.blocks {
		if depth == 0 && metaBlocks[nb.typ] || depth >= maxValueDepth {
			continue
		}
		if nb.typ == "dynamic" && len(nb.labels) == 1 {
			ev.dynamic(nb, ctx, depth, get(nb.labels[0]))
			continue
		}
		get(nb.typ).add(ev.body(nb, ctx, nil, depth+1))
	}
	for _, typ := range order {
		g := groups[typ]
		items = append(items, ev.kit.item(typ, ast.ArrayTerm(g.vals...)))
		switch {
		case g.unknown:
			unks = append(unks, ev.kit.item(typ, ast.InternedTerm(true)))
		case g.anyUnknown:
			unks = append(unks, ev.kit.item(typ, ast.ArrayTerm(g.unks...)))
		}
	}
	vals, unk = ev.kit.emptyObject, ev.kit.emptyObject
	if len(items) > 0 {
		vals = ast.ObjectTerm(items...)
	}
	if len(unks) > 0 {
		unk = ast.ObjectTerm(unks...)
	}
	return vals, unk
}

// blockGroup collects the nested blocks of one type.
type blockGroup struct {
	vals, unks []*ast.Term
	anyUnknown bool // some block has unknown parts
	unknown    bool // how many blocks there are is unknown
}

func (g *blockGroup) add(v, u *ast.Term) {
	g.vals = append(g.vals, v)
	if u == nil {
		u = ast.InternedTerm(false)
	}
	if o, ok := u.Value.(ast.Object); ok && o.Len() == 0 {
		u = ast.InternedTerm(false)
	} else {
		g.anyUnknown = true
	}
	g.unks = append(g.unks, u)
}

// dynamic expands a dynamic block into the blocks it produces, or marks
// their number unknown.
func (ev *evaluator) dynamic(nb *rawBlock, ctx *hcl.EvalContext, depth int, g *blockGroup) {
	fe := nb.attr("for_each")
	if fe == nil {
		g.unknown = true
		return
	}
	iter := nb.labels[0]
	if a := nb.attr("iterator"); a != nil && a.expr != nil {
		if kw := hcl.ExprAsKeyword(a.expr); kw != "" {
			iter = kw
		}
	}
	var content *rawBlock
	for _, c := range nb.blocks {
		if c.typ == "content" {
			content = c
			break
		}
	}
	// JSON syntax spells content as an object attribute.
	contentAttr := nb.attr("content")
	v := ev.eval(fe, ctx)
	t := v.Type()
	if !v.IsKnown() || v.IsNull() || !(t.IsCollectionType() || t.IsTupleType() || t.IsObjectType()) || v.LengthInt() > maxInstances {
		g.unknown = true
		return
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{iter: cty.ObjectVal(map[string]cty.Value{"key": k, "value": e})}
		switch {
		case content != nil:
			g.add(ev.body(content, child, nil, depth+1))
		case contentAttr != nil:
			cv, cu := valueTerms(ev.eval(contentAttr, child), 0)
			if cv == nil {
				g.unknown = true
				return
			}
			g.add(cv, cu)
		}
	}
}

// valueTerms converts a value to its JSON term with unknown parts left out
// (null inside lists), and a mask marking them true, nil when v is wholly
// known. A wholly unknown v has no value term.
func valueTerms(v cty.Value, depth int) (val, unk *ast.Term) {
	if v.IsWhollyKnown() {
		av, ok := ctyValue(v, v.Type())
		if !ok {
			av, ok = jsonValue(v)
		}
		if !ok {
			return nil, ast.InternedTerm(true)
		}
		return ast.NewTerm(av), nil
	}
	if !v.IsKnown() || depth > maxValueDepth {
		return nil, ast.InternedTerm(true)
	}
	if v.IsNull() {
		return ast.NullTerm(), nil
	}
	t := v.Type()
	switch {
	case t.IsListType(), t.IsSetType(), t.IsTupleType():
		vals := make([]*ast.Term, 0, v.LengthInt())
		unks := make([]*ast.Term, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			ev, eu := valueTerms(e, depth+1)
			if ev == nil {
				ev = ast.NullTerm()
			}
			if eu == nil {
				eu = ast.InternedTerm(false)
			}
			vals, unks = append(vals, ev), append(unks, eu)
		}
		return ast.ArrayTerm(vals...), ast.ArrayTerm(unks...)
	case t.IsMapType(), t.IsObjectType():
		var vals, unks [][2]*ast.Term
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			ev, eu := valueTerms(e, depth+1)
			if ev != nil {
				vals = append(vals, item(k.AsString(), ev))
			}
			if eu != nil {
				unks = append(unks, item(k.AsString(), eu))
			}
		}
		return ast.ObjectTerm(vals...), ast.ObjectTerm(unks...)
	}
	return nil, ast.InternedTerm(true)
}
