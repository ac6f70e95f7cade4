package policy

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Package scopes (METADATA custom.scope). A "project" package sees the whole
// project at once. A "module" package promises that each of its results
// depends only on the blocks of one module (the project's own dir or one
// local module), data.tfpr.params and input.project, so evaluating it on
// each module alone and joining the results gives what it would give on the
// whole project. tfpr then evaluates a local module once for all the
// projects calling it, unless the package reads input.project.
const (
	ScopeProject = "project"
	ScopeModule  = "module"
)

func checkScope(stage string, v any) (string, error) {
	switch v {
	case nil, ScopeProject:
		return ScopeProject, nil
	case ScopeModule:
		if stage != StageHCL {
			return "", fmt.Errorf("custom.scope %q applies to tfpr.hcl packages only", ScopeModule)
		}
		return ScopeModule, nil
	}
	if s, ok := v.(string); ok {
		return "", fmt.Errorf("custom.scope must be %q or %q, got %q", ScopeProject, ScopeModule, s)
	}
	return "", fmt.Errorf("custom.scope must be %q or %q, got %v", ScopeProject, ScopeModule, v)
}

// readsProject reports whether any rule of package pkg, or any rule or
// function it uses in any package, could read input.project. It errs on
// the side of yes: using input as a whole, or indexing it with anything
// but a string constant, counts as reading input.project.
func readsProject(c *ast.Compiler, pkg ast.Ref) bool {
	seen := map[*ast.Rule]bool{}
	var queue []*ast.Rule
	push := func(rules []*ast.Rule) {
		for _, r := range rules {
			if !seen[r] {
				seen[r] = true
				queue = append(queue, r)
			}
		}
	}
	push(c.GetRulesWithPrefix(pkg))
	found := false
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		if found {
			return true
		}
		switch x := x.(type) {
		case ast.Ref:
			if v, ok := x[0].Value.(ast.Var); ok {
				switch {
				case v.Equal(ast.InputRootDocument.Value):
					s, ok := ast.String(""), false
					if len(x) > 1 {
						s, ok = x[1].Value.(ast.String)
					}
					if !ok || s == "project" {
						found = true
						return true
					}
				case v.Equal(ast.DefaultRootDocument.Value):
					push(c.GetRulesDynamicWithOpts(x, ast.RulesOptions{IncludeHiddenModules: true}))
				}
			} else {
				vis.Walk(x[0])
			}
			// The head is handled; walk the rest, which may hold refs too.
			for _, t := range x[1:] {
				vis.Walk(t)
			}
			return true
		case ast.Var:
			// A bare input, e.g. passed to a function or assigned.
			if x.Equal(ast.InputRootDocument.Value) {
				found = true
			}
		}
		return false
	})
	for len(queue) > 0 && !found {
		r := queue[0]
		queue = queue[1:]
		vis.Walk(r)
	}
	return found
}

// checkStages reads METADATA custom.stages: the stages a package runs at,
// for rules written over values that exist at both (see lib.resources in
// policies/lib.rego). Absent, a package runs at the stage its path names.
func checkStages(own string, v any) ([]string, error) {
	if v == nil {
		return []string{own}, nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("custom.stages must be a list of %q and %q, got %v", StageHCL, StagePlan, v)
	}
	var out []string
	hasOwn := false
	for _, x := range list {
		s, _ := x.(string)
		if s != StageHCL && s != StagePlan {
			return nil, fmt.Errorf("custom.stages: unknown stage %v (want %q or %q)", x, StageHCL, StagePlan)
		}
		if slices.Contains(out, s) {
			continue
		}
		hasOwn = hasOwn || s == own
		out = append(out, s)
	}
	if !hasOwn {
		return nil, fmt.Errorf("custom.stages must include %q, the stage of the package path", own)
	}
	return out, nil
}
