package policy

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A dir placed under microservices/ deeper in the tree, or below a
// project, is no service's project: the same rule decides whose service
// account runs it.
func TestProjectServiceOnlyForTheExactLayout(t *testing.T) {
	tests := map[string]string{
		"microservices/alpha/dev":          "alpha",
		"platform/microservices/alpha/dev": "",
		"microservices/alpha/dev/extra":    "",
		"microservices/alpha":              "",
	}
	for dir, want := range tests {
		obj := projectTerm(dir).Value.(ast.Object)
		got := obj.Get(ast.StringTerm("service"))
		if got == nil || got.Value.Compare(ast.String(want)) != 0 {
			t.Errorf("projectTerm(%q).service = %v, want %q", dir, got, want)
		}
	}
}
