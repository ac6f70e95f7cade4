package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// RuleFileRead marks a Terraform function call that would read a file
// outside the repository during plan. Plan output lands in the PR comment,
// so file("/proc/self/environ") or file(var.key_path) would publish the
// host's credentials; like unsafe-path it is not a Rego rule, because no
// policy may switch it off.
const RuleFileRead = "file-read"

// fileFuncs read the file named by their first argument.
var fileFuncs = map[string]bool{
	"file": true, "filebase64": true, "templatefile": true, "fileexists": true, "fileset": true,
	"filemd5": true, "filesha1": true, "filesha256": true, "filesha512": true,
	"filebase64sha256": true, "filebase64sha512": true,
}

// fileRef is one call of a file function: the path argument when it is
// static (a literal, optionally after ${path.module}), else "".
type fileRef struct {
	fn   string
	line int
	path string // relative to the file's own directory; "" when not static
}

// nativeFileRefs lists the file-function calls in a native-syntax body.
func nativeFileRefs(body *hclsyntax.Body) []fileRef {
	var refs []fileRef
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || !fileFuncs[call.Name] {
			return nil
		}
		ref := fileRef{fn: call.Name, line: call.Range().Start.Line}
		if len(call.Args) > 0 {
			ref.path = staticPath(call.Args[0])
		}
		refs = append(refs, ref)
		return nil
	})
	return refs
}

// staticPath returns the path an argument names when it is a string literal
// or "${path.module}/literal", relative to the module; else "".
func staticPath(e hclsyntax.Expression) string {
	switch x := e.(type) {
	case *hclsyntax.TemplateWrapExpr:
		return staticPath(x.Wrapped)
	case *hclsyntax.LiteralValueExpr:
		if x.Val.Type().FriendlyName() == "string" && x.Val.IsKnown() && !x.Val.IsNull() {
			return nonEmpty(x.Val.AsString())
		}
	case *hclsyntax.TemplateExpr:
		var b strings.Builder
		for i, p := range x.Parts {
			switch part := p.(type) {
			case *hclsyntax.LiteralValueExpr:
				if part.Val.Type().FriendlyName() != "string" {
					return ""
				}
				b.WriteString(part.Val.AsString())
			case *hclsyntax.ScopeTraversalExpr:
				if i != 0 || len(part.Traversal) != 2 || part.Traversal.RootName() != "path" {
					return ""
				}
				if attr, ok := part.Traversal[1].(hcl.TraverseAttr); !ok || attr.Name != "module" {
					return ""
				}
				b.WriteString(".")
			default:
				return ""
			}
		}
		return nonEmpty(b.String())
	}
	return ""
}

func nonEmpty(s string) string {
	if s == "" {
		return "."
	}
	return s
}

// jsonFileCall finds file-function calls inside JSON-syntax templates,
// which tfpr does not resolve: any such call is treated as not static.
var jsonFileCall = regexp.MustCompile(`\b(file|filebase64|templatefile|fileexists|fileset|filemd5|filesha1|filesha256|filesha512|filebase64sha256|filebase64sha512)\s*\(`)

func jsonFileRefs(src []byte) []fileRef {
	var refs []fileRef
	for _, loc := range jsonFileCall.FindAllSubmatchIndex(src, -1) {
		refs = append(refs, fileRef{fn: string(src[loc[2]:loc[3]]), line: 1 + strings.Count(string(src[:loc[0]]), "\n")})
	}
	return refs
}

// checkFileRef judges one call against the checkout: the path must be
// static, stay inside the repository and not be a symlink (a committed
// symlink could point anywhere on the host).
func checkFileRef(root *os.Root, rel string, ref fileRef) *Finding {
	f := &Finding{Rule: RuleFileRead, Title: "file read outside the repository", Severity: SeverityDeny, File: rel, Line: ref.line, EndLine: ref.line}
	if ref.path == "" {
		f.Message = fmt.Sprintf("%s() reads a path tfpr cannot check before plan; use a literal path inside the module, e.g. %s(\"${path.module}/files/x.json\")", ref.fn, ref.fn)
		return f
	}
	if path.IsAbs(ref.path) || strings.HasPrefix(ref.path, "~") {
		f.Message = fmt.Sprintf("%s(%q) reads outside the repository; only files in the repository may be read during plan", ref.fn, ref.path)
		return f
	}
	target := path.Join(path.Dir(rel), ref.path)
	if target == ".." || strings.HasPrefix(target, "../") {
		f.Message = fmt.Sprintf("%s(%q) reaches outside the repository", ref.fn, ref.path)
		return f
	}
	if ref.fn == "fileset" {
		return nil // a directory and a pattern; symlinks are caught where read
	}
	fi, err := root.Lstat(target)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		f.Message = fmt.Sprintf("%s(%q) reads %s, a symlink; symlinks can point outside the repository", ref.fn, ref.path, target)
		return f
	case err != nil && !os.IsNotExist(err):
		// os.Root refuses paths that escape through a symlinked directory.
		f.Message = fmt.Sprintf("%s(%q) cannot be checked: %v", ref.fn, ref.path, err)
		return f
	}
	return nil
}
