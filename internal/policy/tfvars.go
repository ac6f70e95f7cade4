package policy

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// varsFile is one variable definitions file of a directory, as terraform
// loads it for a root module: the values it assigns, in file order.
type varsFile struct {
	path  string
	names []string
	vals  map[string]cty.Value
}

// isVarsFile names the files terraform reads on its own from a root
// module's directory: terraform.tfvars(.json) and *.auto.tfvars(.json).
func isVarsFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	return name == "terraform.tfvars" || name == "terraform.tfvars.json" ||
		strings.HasSuffix(name, ".auto.tfvars") || strings.HasSuffix(name, ".auto.tfvars.json")
}

// varsOrder is terraform's load order: terraform.tfvars, then
// terraform.tfvars.json, then the *.auto.tfvars files in lexical order.
func varsOrder(name string) int {
	switch name {
	case "terraform.tfvars":
		return 0
	case "terraform.tfvars.json":
		return 1
	}
	return 2
}

// readVars reads and parses one vars file with the same bounded reads as
// the Terraform files. Unreadable or invalid files are findings: terraform
// would refuse them as well.
func (df *dirFiles) readVars(root *os.Root, d *os.File, e fs.DirEntry, h hash.Hash) {
	rel := path.Join(df.dir, e.Name())
	src, f := readEntry(root, d, e, rel)
	if f != nil {
		df.findings = append(df.findings, *f)
		if h != nil {
			fmt.Fprintf(h, "\x00!%s\x00%s\x00%s", rel, f.Severity, f.Message)
		}
		return
	}
	if h != nil {
		fmt.Fprintf(h, "\x00%s\x00%x", rel, sha256.Sum256(src))
	}
	vf, findings := parseVars(rel, src)
	df.findings = append(df.findings, findings...)
	// Keep terraform's order whatever order the directory listed them in.
	at := len(df.vars)
	for at > 0 && varsOrder(path.Base(df.vars[at-1].path)) > varsOrder(e.Name()) {
		at--
	}
	df.vars = append(df.vars[:at], append([]*varsFile{vf}, df.vars[at:]...)...)
}

// parseVars reads the assignments of a vars file. Like terraform, it
// allows no references or function calls; values beyond the evaluation
// limits are kept as unknown.
func parseVars(rel string, src []byte) (*varsFile, []Finding) {
	vf := &varsFile{path: rel, vals: map[string]cty.Value{}}
	if f := checkNesting(rel, src); f != nil {
		return vf, []Finding{*f}
	}
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(rel, ".json") {
		f, diags = hcljson.Parse(src, rel)
	} else {
		f, diags = hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	}
	findings := diagFindings(rel, diags)
	if f == nil || f.Body == nil || diags.HasErrors() {
		return vf, findings
	}
	attrs, diags := f.Body.JustAttributes()
	findings = append(findings, diagFindings(rel, diags)...)
	b := newBudget()
	for name, a := range attrs {
		v, d := a.Expr.Value(nil)
		if d.HasErrors() {
			findings = append(findings, diagFindings(rel, d)...)
			continue
		}
		vf.names = append(vf.names, name)
		vf.vals[name] = b.bound(v)
	}
	return vf, findings
}
