package policy

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestReadsProject(t *testing.T) {
	lib := `package tfpr.lib

at(b) := {"address": b.address}

dir := input.project.dir

whole(x) := x
`
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"blocks only", `deny contains b.address if some b in input.resources`, false},
		{"helper function", `deny contains lib.at(b) if some b in input.data`, false},
		{"project field", `deny contains "x" if input.project.env == "prod"`, true},
		{"project object", `deny contains "x" if { p := input.project; p.env == "prod" }`, true},
		{"helper rule reading project", `deny contains lib.dir if input.resources`, true},
		{"own rule reading project", "deny contains e if { some b in input.resources; e := env }\n\nenv := input.project.env", true},
		{"computed key", `deny contains k if { some k in ["resources", "data"]; input[k] }`, true},
		{"iterating input", `deny contains k if { some k, _ in input }`, true},
		{"input as a value", `deny contains "x" if lib.whole(input).resources`, true},
		{"with input", `deny contains "x" if { data.tfpr.lib.dir with input as {"project": {"dir": "a"}} }`, true},
		{"dynamic data", `deny contains "x" if { some k; data.tfpr.lib[k] }`, true},
		{"params", `deny contains "x" if data.tfpr.params.max_destroy > count(input.resources)`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "package tfpr.hcl.p\n\nimport data.tfpr.lib\n\n" + tc.body + "\n"
			modules := map[string]*ast.Module{}
			for name, s := range map[string]string{"p.rego": src, "lib.rego": lib} {
				m, err := ast.ParseModuleWithOpts(name, s, ast.ParserOptions{RegoVersion: ast.RegoV1})
				if err != nil {
					t.Fatal(err)
				}
				modules[name] = m
			}
			c := newCompiler()
			if c.Compile(modules); c.Failed() {
				t.Fatal(c.Errors)
			}
			if got := readsProject(c, ast.MustParseRef("data.tfpr.hcl.p")); got != tc.want {
				t.Errorf("readsProject = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDefaultPoliciesSplit(t *testing.T) {
	e := newTestEngine(t)
	var local []string
	for _, b := range e.local.bindings {
		local = append(local, b.pkg)
	}
	var whole []string
	for _, b := range e.stages[StageHCL].bindings {
		whole = append(whole, b.pkg)
	}
	// Only TFPR005 compares blocks with input.project.
	if len(whole) != 1 || whole[0] != "tfpr.hcl.project" || len(local) < 11 {
		t.Errorf("evaluated per module: %v; on the whole project: %v", local, whole)
	}
}
