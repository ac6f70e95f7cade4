package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// RuleFileRead marks a Terraform function call that would read a file
// outside the repository during plan. Plan output lands in the PR comment,
// so file("/proc/self/environ") or file(var.key_path) would publish the
// host's credentials; like unsafe-path it is not a Rego rule, because no
// policy may switch it off.
const RuleFileRead = "file-read"

// RuleUnsafeFunction marks a call of a function that defeats the gate in
// another way: nonsensitive() strips terraform's own redaction of secrets
// from plan output, a provider-defined function runs provider code during
// plan, templatestring() renders a template tfpr cannot see. Not a Rego
// rule either.
const RuleUnsafeFunction = "unsafe-function"

// fileFuncs read the file named by their first argument.
var fileFuncs = map[string]bool{
	"file": true, "filebase64": true, "templatefile": true, "fileexists": true, "fileset": true,
	"filemd5": true, "filesha1": true, "filesha256": true, "filesha512": true,
	"filebase64sha256": true, "filebase64sha512": true,
}

// judged reports whether a call of fn (as written) is checked before plan.
func judged(fn string) bool {
	name := strings.TrimPrefix(fn, "core::")
	return fileFuncs[name] || name == "nonsensitive" || name == "templatestring" || strings.Contains(name, "::")
}

// pathBase is the directory a relative path argument is resolved from.
type pathBase int

const (
	// baseCwd: a bare relative path, resolved by terraform from its working
	// directory, the project's directory, whichever module the call is in;
	// also ${path.root} and ${path.cwd}.
	baseCwd pathBase = iota
	// baseModule: "${path.module}/...", the directory of the calling module.
	baseModule
)

// pathArg is a path argument: value is "" when it is not static (a literal,
// optionally after ${path.module}, ${path.root} or ${path.cwd}).
type pathArg struct {
	value string
	base  pathBase
}

// funcCall is one call of a judged function.
type funcCall struct {
	fn      string // as written, e.g. "core::file"
	line    int
	path    pathArg // first argument
	pattern pathArg // second argument, for fileset
}

func (c funcCall) name() string { return strings.TrimPrefix(c.fn, "core::") }

// collectCalls lists the judged function calls below n. line, when not 0,
// places every call (a JSON string's template has no lines of its own).
func collectCalls(n hclsyntax.Node, line int) []funcCall {
	var calls []funcCall
	hclsyntax.VisitAll(n, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || !judged(call.Name) {
			return nil
		}
		c := funcCall{fn: call.Name, line: line}
		if line == 0 {
			c.line = call.Range().Start.Line
		}
		if len(call.Args) > 0 {
			c.path = staticPath(call.Args[0])
		}
		if len(call.Args) > 1 {
			c.pattern = staticPath(call.Args[1])
		}
		calls = append(calls, c)
		return nil
	})
	return calls
}

// pathBaseOf reads path.module, path.root or path.cwd.
func pathBaseOf(t hcl.Traversal) (pathBase, bool) {
	if len(t) != 2 || t.RootName() != "path" {
		return 0, false
	}
	attr, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return 0, false
	}
	switch attr.Name {
	case "module":
		return baseModule, true
	case "root", "cwd":
		return baseCwd, true
	}
	return 0, false
}

// staticPath returns the path an argument names when it is a string literal
// or a literal after ${path.module}, ${path.root} or ${path.cwd}.
func staticPath(e hclsyntax.Expression) pathArg {
	switch x := e.(type) {
	case *hclsyntax.TemplateWrapExpr:
		return staticPath(x.Wrapped)
	case *hclsyntax.ScopeTraversalExpr:
		// A bare path.module, as in fileset(path.module, "files/*.yaml").
		if base, ok := pathBaseOf(x.Traversal); ok {
			return pathArg{value: ".", base: base}
		}
	case *hclsyntax.LiteralValueExpr:
		if x.Val.Type().FriendlyName() == "string" && x.Val.IsKnown() && !x.Val.IsNull() {
			return pathArg{value: nonEmpty(x.Val.AsString())}
		}
	case *hclsyntax.TemplateExpr:
		var b strings.Builder
		base := baseCwd
		for i, p := range x.Parts {
			switch part := p.(type) {
			case *hclsyntax.LiteralValueExpr:
				if part.Val.Type().FriendlyName() != "string" || !part.Val.IsKnown() || part.Val.IsNull() {
					return pathArg{}
				}
				b.WriteString(part.Val.AsString())
			case *hclsyntax.ScopeTraversalExpr:
				pb, ok := pathBaseOf(part.Traversal)
				if i != 0 || !ok {
					return pathArg{}
				}
				base = pb
				b.WriteString(".")
			default:
				return pathArg{}
			}
		}
		return pathArg{value: nonEmpty(b.String()), base: base}
	}
	return pathArg{}
}

func nonEmpty(s string) string {
	if s == "" {
		return "."
	}
	return s
}

// callSite is where calls are judged: the file holding them, the project
// terraform runs in (its working directory) and the module the file
// belongs to (the project itself for its own files).
type callSite struct {
	file, project, module string
	// via names the templatefile() call that rendered file, for calls
	// inside templates; depth counts such templates.
	via   string
	depth int
}

// resolve returns the repo-relative path terraform would read for arg, or
// why it is outside the repository.
func (s callSite) resolve(arg pathArg) (target, outside string) {
	if path.IsAbs(arg.value) || strings.HasPrefix(arg.value, "~") {
		return "", "reads outside the repository; only files in the repository may be read during plan"
	}
	dir, from := dirOrDot(s.project), "the project directory "+dirOrDot(s.project)+", where terraform runs"
	if arg.base == baseModule {
		dir, from = dirOrDot(s.module), "the module directory "+dirOrDot(s.module)
	}
	target = path.Join(dir, arg.value)
	if target == ".." || strings.HasPrefix(target, "../") {
		return "", "reaches outside the repository (resolved from " + from + ")"
	}
	return target, ""
}

func (s callSite) finding(rule, title string, c funcCall, format string, args ...any) Finding {
	msg := fmt.Sprintf(format, args...)
	if s.via != "" {
		msg += " (in a template rendered by " + s.via + ")"
	}
	return Finding{Rule: rule, Title: title, Severity: SeverityDeny, File: s.file, Line: c.line, EndLine: c.line, Message: msg}
}

// maxTemplateDepth bounds templates rendering templates.
const maxTemplateDepth = 4

// callChecker judges the calls of one project's configuration against the
// checkout. Templates are read once per project.
type callChecker struct {
	t         *Tree
	templates map[string][]Finding // by site and template
}

// dir judges the calls and module sources of one directory's files as
// terraform runs them for project: relative paths resolve from the
// project's directory, so a shared module's verdict depends on its caller.
func (cc *callChecker) dir(project string, df *dirFiles) []Finding {
	var out []Finding
	for _, f := range df.files {
		s := callSite{file: f.path, project: project, module: df.dir}
		for _, c := range f.calls {
			out = append(out, cc.check(s, c)...)
		}
		out = append(out, moduleSources(f, df.dir)...)
	}
	return out
}

// check judges one call.
func (cc *callChecker) check(s callSite, c funcCall) []Finding {
	name := c.name()
	readFinding := func(format string, args ...any) []Finding {
		return []Finding{s.finding(RuleFileRead, "file read outside the repository", c, format, args...)}
	}
	switch {
	case name == "nonsensitive":
		return []Finding{s.finding(RuleUnsafeFunction, "unsafe function", c,
			"nonsensitive() strips terraform's redaction of secrets, which would then be printed in the plan posted to the pull request; keep the value sensitive")}
	case name == "templatestring":
		return []Finding{s.finding(RuleUnsafeFunction, "unsafe function", c,
			"templatestring() renders a template tfpr cannot check before plan; use templatefile() with a template committed to the repository")}
	case strings.Contains(name, "::"):
		if slices.Contains(cc.t.e.allowedFuncs, name) {
			return nil
		}
		return []Finding{s.finding(RuleUnsafeFunction, "unsafe function", c,
			"%s() is a provider-defined function: it runs provider code during plan, which may read files or call out; the platform team can allow it by name in allowed_provider_functions", c.fn)}
	}
	if c.path.value == "" {
		example := c.fn + `("${path.module}/files/x.json")`
		if name == "fileset" {
			example = c.fn + `("${path.module}/files", "*.json")`
		}
		return readFinding("%s() reads a path tfpr cannot check before plan; use a literal path inside the module, e.g. %s", c.fn, example)
	}
	target, outside := s.resolve(c.path)
	if outside != "" {
		return readFinding("%s(%q) %s", c.fn, c.path.value, outside)
	}
	if name == "fileset" {
		return cc.checkPattern(s, c, target)
	}
	fi, err := cc.t.root.Lstat(target)
	switch {
	case err == nil && !fi.Mode().IsRegular() && !fi.IsDir():
		return readFinding("%s(%q) reads %s, which is not a regular file; symlinks can point outside the repository", c.fn, c.path.value, target)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		// os.Root refuses paths that escape through a symlinked directory.
		return readFinding("%s(%q) cannot be checked: %v", c.fn, c.path.value, err)
	case err == nil && name == "templatefile":
		return cc.template(s, c, target)
	}
	return nil
}

// checkPattern judges fileset's pattern, which is joined to its directory:
// "../../*" would list and later read files outside the repository.
func (cc *callChecker) checkPattern(s callSite, c funcCall, dir string) []Finding {
	p := c.pattern
	bad := ""
	switch {
	case p.value == "" || p.base != baseCwd:
		bad = "is not a literal"
	case path.IsAbs(p.value) || strings.HasPrefix(p.value, "~") || strings.Contains(p.value, ".."):
		bad = "may reach outside the directory"
	default:
		if j := path.Join(dir, p.value); j == ".." || strings.HasPrefix(j, "../") {
			bad = "reaches outside the repository"
		}
	}
	if bad == "" {
		return nil
	}
	if p.value == "" {
		return []Finding{s.finding(RuleFileRead, "file read outside the repository", c,
			"fileset() with a computed pattern lists files tfpr cannot check before plan; use a literal pattern without \"..\", e.g. fileset(\"${path.module}/files\", \"*.json\")")}
	}
	return []Finding{s.finding(RuleFileRead, "file read outside the repository", c,
		"fileset(%q, %q): the pattern %s; use a literal pattern without \"..\", e.g. fileset(\"${path.module}/files\", \"*.json\")", c.path.value, p.value, bad)}
}

// template judges the calls inside a template file rendered by
// templatefile(): templates are code, and file("/proc/self/environ") in
// one reads the host as surely as in a .tf file. Paths in a template
// resolve like bare ones in the calling file: from the working directory.
func (cc *callChecker) template(s callSite, c funcCall, target string) []Finding {
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%d", target, s.project, s.module, s.depth)
	if fs, ok := cc.templates[key]; ok {
		return fs
	}
	cc.templates[key] = nil // a template rendering itself stops here
	via := fmt.Sprintf("templatefile at %s:%d", s.file, c.line)
	inner := callSite{file: target, project: s.project, module: s.module, via: via, depth: s.depth + 1}
	deny := func(line int, format string, args ...any) []Finding {
		return []Finding{{Rule: RuleFileRead, Title: "template not checked", Severity: SeverityDeny, File: target, Line: line, EndLine: line,
			Message: fmt.Sprintf(format, args...) + "; it is rendered by " + via}}
	}
	var out []Finding
	src, f := readSource(cc.t.root, target)
	switch {
	case inner.depth > maxTemplateDepth:
		out = deny(0, "templates nest more than %d deep", maxTemplateDepth)
	case f != nil:
		out = deny(0, "%s", f.Message)
	default:
		if ne := tfsource.CheckNesting(src, tfsource.Template); ne != nil {
			out = deny(ne.Line, "%v", ne)
			break
		}
		expr, diags := hclsyntax.ParseTemplate(src, target, hcl.InitialPos)
		if diags.HasErrors() {
			line := 0
			if d := diags[0]; d.Subject != nil {
				line = d.Subject.Start.Line
			}
			out = deny(line, "invalid template: %s", diags[0].Summary)
			break
		}
		for _, ic := range collectCalls(expr, 0) {
			out = append(out, cc.check(inner, ic)...)
		}
	}
	cc.templates[key] = out
	return out
}
