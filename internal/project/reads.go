package project

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A Terraform configuration can read files anywhere in the repository
// (file("${path.module}/../../shared/x.json")); a change to such a file
// changes the plan as surely as a change to a .tf file. Only the static part
// of a path is known before terraform runs, so a path with a dynamic part
// depends on everything under its static directory.

// readBase is what a read path is relative to.
type readBase int

const (
	// fromModule: ${path.module}/..., relative to the dir of the reading file.
	fromModule readBase = iota
	// fromRoot: ${path.root}/..., ${path.cwd}/... or a bare relative path,
	// which terraform resolves from the working dir: the project, even when
	// a module makes the call.
	fromRoot
)

// fileRead is one static path a configuration reads.
type fileRead struct {
	base   readBase
	rel    string // slash path relative to base
	prefix bool   // rel is a directory: any file under it counts
	all    bool   // too many reads to track: any file in the repository counts
	// template: a templatefile() of one file, whose own calls read more.
	template bool
}

// maxReadsPerFile bounds what one file can add to the graph. A file over it
// is taken to read anything from its project, so nothing is missed.
const maxReadsPerFile = 256

var everything = fileRead{all: true}

// fileReadingFuncs maps terraform's file-reading functions to the index of
// their path argument.
var fileReadingFuncs = map[string]int{
	"file": 0, "filebase64": 0, "filemd5": 0, "filesha1": 0, "filesha256": 0, "filesha512": 0,
	"filebase64sha256": 0, "filebase64sha512": 0, "fileexists": 0, "templatefile": 0, "fileset": 0,
}

// hclReads collects the static paths of file-reading calls in a native
// syntax body.
func hclReads(body hcl.Body) []fileRead {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	return exprReads(b)
}

func exprReads(node hclsyntax.Node) []fileRead {
	var out []fileRead
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		name := strings.TrimPrefix(call.Name, "core::")
		i, ok := fileReadingFuncs[name]
		if !ok || len(call.Args) <= i {
			return nil
		}
		parts := staticParts(call.Args[i])
		if name == "fileset" && len(call.Args) > 1 && parts != nil {
			// fileset(dir, pattern) reads dir/pattern; glob characters end
			// the static part.
			parts = append(parts, part{text: "/"})
			parts = append(parts, globParts(call.Args[1])...)
		}
		if r, ok := toRead(parts); ok {
			r.template = name == "templatefile" && !r.prefix
			out = append(out, r)
		}
		return nil
	})
	if len(out) > maxReadsPerFile {
		return []fileRead{everything}
	}
	return out
}

// part is one piece of a path expression: literal text, a path.* reference,
// or something only known at plan time.
type part struct {
	text    string
	ref     string // "module", "root" or "cwd" for path.<ref>
	dynamic bool
}

// staticParts flattens a path argument into parts; nil when it has no
// static beginning at all.
func staticParts(e hclsyntax.Expression) []part {
	switch e := e.(type) {
	case *hclsyntax.TemplateExpr:
		var out []part
		for _, p := range e.Parts {
			out = append(out, staticParts(p)...)
		}
		return out
	case *hclsyntax.TemplateWrapExpr:
		return staticParts(e.Wrapped)
	case *hclsyntax.LiteralValueExpr:
		if v := e.Val; v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			return []part{{text: v.AsString()}}
		}
	case *hclsyntax.ScopeTraversalExpr:
		t := e.Traversal
		if len(t) == 2 && t.RootName() == "path" {
			if a, ok := t[1].(hcl.TraverseAttr); ok && (a.Name == "module" || a.Name == "root" || a.Name == "cwd") {
				return []part{{ref: a.Name}}
			}
		}
	}
	return []part{{dynamic: true}}
}

// globParts is staticParts for a fileset pattern, whose glob characters are
// dynamic.
func globParts(e hclsyntax.Expression) []part {
	var out []part
	for _, p := range staticParts(e) {
		if p.text != "" {
			if i := strings.IndexAny(p.text, "*?[{"); i >= 0 {
				out = append(out, part{text: p.text[:i]}, part{dynamic: true})
				return out
			}
		}
		out = append(out, p)
	}
	return out
}

// toRead turns parts into a read: the base from a leading path.* reference
// (or none: relative to the working dir), the literal text up to the first
// dynamic part. Absolute paths and paths with no static part are not
// repository files this graph can track.
func toRead(parts []part) (fileRead, bool) {
	if len(parts) == 0 {
		return fileRead{}, false
	}
	r := fileRead{base: fromRoot}
	switch parts[0].ref {
	case "module":
		r.base, parts = fromModule, parts[1:]
	case "root", "cwd":
		parts = parts[1:]
	case "":
		if parts[0].dynamic || strings.HasPrefix(parts[0].text, "/") {
			return fileRead{}, false
		}
	}
	var text strings.Builder
	for _, p := range parts {
		if p.ref != "" || p.dynamic {
			r.prefix = true
			break
		}
		text.WriteString(p.text)
	}
	rel := text.String()
	if r.prefix {
		// Up to the last separator: "files/app-${var.env}.json" -> "files".
		if i := strings.LastIndex(rel, "/"); i >= 0 {
			rel = rel[:i]
		} else {
			rel = ""
		}
	}
	r.rel = "./" + rel
	return r, true
}

// jsonReads finds file-reading calls in the template strings of a .tf.json
// file: terraform evaluates every string there as a template.
func jsonReads(src []byte) []fileRead {
	var doc any
	if json.Unmarshal(src, &doc) != nil {
		return nil
	}
	var out []fileRead
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if !strings.Contains(v, "${") {
				return
			}
			if t, diags := hclsyntax.ParseTemplate([]byte(v), "", hcl.InitialPos); !diags.HasErrors() {
				out = append(out, exprReads(t)...)
			}
		}
	}
	walk(doc)
	if len(out) > maxReadsPerFile {
		return []fileRead{everything}
	}
	return out
}

// resolve names the repo-relative file or dir a read of dir reaches when
// project p runs; ok is false when it leaves the repository.
func (r fileRead) resolve(dir, p string) (string, bool) {
	if r.all {
		return ".", true
	}
	base := p
	if r.base == fromModule {
		base = dir
	}
	target := path.Clean(path.Join(base, r.rel))
	if target == ".." || strings.HasPrefix(target, "../") {
		return "", false
	}
	return target, true
}

// indexReads resolves every dir's reads for each project that runs it: the
// dir itself when it is a project, and every project calling it.
func (g *Graph) indexReads(ctx context.Context, root *os.Root) error {
	tpl := newTemplates(root)
	g.readFiles, g.readDirs = map[string][]string{}, map[string][]string{}
	add := func(m map[string][]string, target, p string) {
		if !contains(m[target], p) {
			m[target] = append(m[target], p)
		}
	}
	for dir, reads := range g.reads {
		if len(reads) == 0 {
			continue
		}
		projects := g.Callers(dir)
		if g.IsProject(dir) {
			projects = append(projects, dir)
		}
		for _, p := range projects {
			if err := ctx.Err(); err != nil {
				return err
			}
			for _, r := range tpl.expand(dir, p, reads) {
				target, ok := r.resolve(dir, p)
				switch {
				case !ok:
				case r.prefix || r.all:
					add(g.readDirs, target, p)
				default:
					add(g.readFiles, target, p)
				}
			}
		}
	}
	return nil
}

// readers returns the projects that read file, directly or under a dir
// they read.
func (g *Graph) readers(file string) []string {
	out := append([]string(nil), g.readFiles[file]...)
	for d := file; ; {
		out = append(out, g.readDirs[d]...)
		if d == "." {
			return out
		}
		d = path.Dir(d)
	}
}
