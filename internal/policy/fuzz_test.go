package policy

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// FuzzParse feeds one file, as native syntax, as JSON syntax and as a
// template, through everything tfpr does with a file before policies run:
// the content and nesting checks, the HCL parsers, the function-call
// collection and the HCL-to-input conversion. No input may crash it; the
// go test -fuzz run in make test is bounded in time.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/hostile", "testdata/cases", "testdata/parse", "testdata/suppress"} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
					f.Add(b)
				}
			}
			return nil
		})
	}
	for _, s := range []string{
		"locals {\n  x = " + strings.Repeat("[", 5000) + "\n}\n",
		"locals {\n  x = " + strings.Repeat("!", 5000) + "true\n}\n",
		"locals {\n  x = " + strings.Repeat("a ? b : ", 2000) + "c\n}\n",
		"{\"locals\": " + strings.Repeat("[", 5000) + "}",
		"{\"locals\": {\"x\": \"${" + strings.Repeat("(", 5000) + "\"}}",
		"x = <<EOF\n${" + strings.Repeat("{", 300) + "\nEOF\n",
		"x = a" + strings.Repeat("[*]", 3000) + "\n",
		"x = \"" + strings.Repeat("%{if a}", 3000) + "\"\n",
		"# caf\xe9\noutput \"x\" { value = core::file(\"/etc/hostname\") }\n",
		"{\"output\": {\"x\": {\"value\": \"${fil\\u0065(\\\"/x\\\")}\"}}}",
	} {
		f.Add([]byte(s))
	}
	kit := newTermKit(nil)
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFileSize {
			return
		}
		for _, rel := range []string{"p/main.tf", "p/main.tf.json"} {
			if checkContent(rel, src) != nil {
				continue
			}
			sf := parseSource(rel, src, kit)
			p := newModulePart("p", "", []*sourceFile{sf}, nil, kit)
			newConfig("p", []*modulePart{p}, sf.findings).input()
			moduleSources(sf, "p")
		}
		if tfsource.CheckNesting(src, tfsource.Template) == nil {
			if expr, diags := hclsyntax.ParseTemplate(src, "t.tpl", hcl.InitialPos); !diags.HasErrors() {
				collectCalls(expr, 0)
			}
		}
	})
}
