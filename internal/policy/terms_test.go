package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/tfpr/tfpr/policies"
)

func newTestEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New(context.Background(), policies.FS(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestStaticValueMatchesJSON pins the direct cty conversion to what
// terraform's JSON encoding of the value gives, which policies saw before.
func TestStaticValueMatchesJSON(t *testing.T) {
	native := []string{
		`"EU"`, `"caf\u00e9 ☕"`, `""`, `"a\nb"`, `true`, `false`, `null`,
		`0`, `-0`, `30`, `-7`, `1.5`, `0.1`, `1e3`, `123456789012345678901234567890`, `1.25e-7`,
		`[]`, `["0.0.0.0/0", "10.0.0.0/8"]`, `[1, "a", true, null]`, `[[1, 2], {a = 1}]`,
		`{}`, `{ service = "a", env = "dev" }`, `{ "key with space" = 1, nested = { list = [1, 2] } }`,
		`"${"a"}b"`, `1 + 2`, `true ? "x" : null`, `{ a = null }`, `[null]`,
	}
	for _, src := range native {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "x.tf", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", src, diags)
		}
		checkStatic(t, src, expr)
	}
	for _, src := range []string{`"EU"`, `{"a": [1, 2.5, "x"]}`, `[{"protocol": "tcp"}]`, `12`, `null`} {
		expr, diags := hcljson.ParseExpression([]byte(src), "x.tf.json")
		if diags.HasErrors() {
			t.Fatalf("%s: %s", src, diags)
		}
		checkStatic(t, "json "+src, expr)
	}
}

func checkStatic(t *testing.T, name string, expr hcl.Expression) {
	t.Helper()
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags)
	}
	want, ok := jsonValue(v)
	if !ok {
		t.Fatalf("%s: no JSON value", name)
	}
	got, ok := staticValue(expr)
	if !ok || ast.Compare(got, want) != 0 || got.String() != want.String() {
		t.Errorf("%s: static value %v, JSON encoding gives %v", name, got, want)
	}
}

// TestSharedAttrTermsAreBounded checks that the terms shared between
// attributes written alike stay bounded however many distinct attributes
// one lint reads, so memory follows what is being linted.
func TestSharedAttrTermsAreBounded(t *testing.T) {
	kit := newTermKit(nil)
	var sb strings.Builder
	sb.WriteString("locals {\n")
	for i := range maxSharedAttrs + 100 {
		fmt.Fprintf(&sb, "  a%d = var.x%d\n", i, i)
	}
	sb.WriteString("}\n")
	sf := parseSource("main.tf", []byte(sb.String()), kit)
	if len(sf.findings) > 0 {
		t.Fatal(sf.findings)
	}
	n := 0
	kit.attrs.Range(func(_, _ any) bool { n++; return true })
	if n > maxSharedAttrs {
		t.Errorf("the kit holds %d shared attribute terms, over its bound of %d", n, maxSharedAttrs)
	}
}
