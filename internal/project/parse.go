package project

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// Only the blocks that decide what a directory is and what it calls are
// decoded; everything else is left to the policy engine and terraform.
var (
	rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "terraform"},
		{Type: "module", LabelNames: []string{"name"}},
	}}
	terraformSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "backend", LabelNames: []string{"type"}},
	}}
	moduleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "source"}}}
)

// Fallbacks for files that do not parse: a project with a syntax error must
// still be recognised as a project so the change is reported, not dropped.
var (
	backendHCL  = regexp.MustCompile(`(?m)^\s*backend\s+"([^"]+)"`)
	backendJSON = regexp.MustCompile(`"backend"\s*:\s*[\[{]\s*\{?\s*"([^"]+)"`)
)

type backendDecl struct {
	kind string
	file string
	line int
}

type moduleCall struct {
	name   string
	source string
	file   string
	line   int
}

type fileResult struct {
	backends []backendDecl
	modules  []moduleCall
	reads    []fileRead
	diags    []Diagnostic
	broken   bool
}

// reader reads Terraform files below root through one descriptor per
// directory: os.Root resolves every component of every path it opens,
// which was most of a scan's system calls. Not safe for concurrent use.
type reader struct {
	root *os.Root
	dir  string   // the directory dirf is open on
	dirf *os.File // nil when dir could not be opened
}

// read reads rel as tfsource.ReadFile does.
func (r *reader) read(rel string) ([]byte, error) {
	dir, name := path.Split(rel)
	if r.dirf == nil || dir != r.dir {
		r.close()
		r.dir = dir
		r.dirf, _ = r.root.Open(cmp.Or(strings.TrimSuffix(dir, "/"), "."))
	}
	if r.dirf != nil {
		if src, ok := tfsource.ReadRegularAt(r.dirf, name, tfsource.MaxFileSize); ok {
			return src, nil
		}
	}
	// Anything unusual (a symlink, a special file, a size over the
	// limit): os.Root reads it or says why not.
	return tfsource.ReadFile(r.root, rel, tfsource.MaxFileSize)
}

func (r *reader) close() {
	if r.dirf != nil {
		r.dirf.Close()
		r.dirf = nil
	}
}

// parseFile reads and decodes one Terraform file, rel below r's root (a
// repo-relative slash path, also used in diagnostics), through s's cache
// when s is not nil. Only I/O failures return an error; bad content, and
// files that are not regular, too large or nested too deeply to parse
// safely, become diagnostics.
func (s *Scanner) parseFile(r *reader, rel string) (fileResult, error) {
	src, err := r.read(rel)
	if err != nil {
		if errors.Is(err, tfsource.ErrNotRegular) || errors.Is(err, tfsource.ErrTooLarge) || isBadLink(r.root, rel) {
			return fileResult{broken: true, diags: []Diagnostic{{File: rel, Message: err.Error()}}}, nil
		}
		return fileResult{}, err
	}
	if s == nil {
		return decodeFile(rel, src), nil
	}
	// The result depends on nothing but the path and the bytes.
	k := fileKey{rel: rel, sum: sha256.Sum256(src)}
	if m, ok := s.files.Get(k); ok {
		return m.res, nil
	}
	res := decodeFile(rel, src)
	s.decoded.Add(1)
	s.remember(k, res, len(src))
	return res, nil
}

// decodeFile decodes src, the content of rel.
func decodeFile(rel string, src []byte) fileResult {
	isJSON := strings.HasSuffix(rel, ".json")
	syntax := tfsource.Config
	if isJSON {
		syntax = tfsource.JSONSyntax
	}
	if ne := tfsource.CheckNesting(src, syntax); ne != nil {
		return fileResult{broken: true, diags: []Diagnostic{{File: rel, Line: ne.Line, Message: ne.Error()}}}
	}
	var f *hcl.File
	var diags hcl.Diagnostics
	if isJSON {
		f, diags = hcljson.Parse(src, rel)
	} else {
		f, diags = hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	}
	var res fileResult
	res.addDiags(rel, diags)
	res.broken = diags.HasErrors()
	if f != nil && f.Body != nil {
		res.decode(rel, f.Body)
		if isJSON {
			res.reads = jsonReads(src)
		} else {
			res.reads = hclReads(f.Body)
		}
	}
	if res.broken && len(res.backends) == 0 {
		re := backendHCL
		if isJSON {
			re = backendJSON
		}
		if m := re.FindSubmatchIndex(src); m != nil {
			line := 1 + strings.Count(string(src[:m[0]]), "\n")
			res.backends = append(res.backends, backendDecl{kind: string(src[m[2]:m[3]]), file: rel, line: line})
		}
	}
	return res
}

func (r *fileResult) decode(rel string, body hcl.Body) {
	content, _, diags := body.PartialContent(rootSchema)
	r.addDiags(rel, diags)
	if content == nil {
		return
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "terraform":
			tc, _, diags := b.Body.PartialContent(terraformSchema)
			r.addDiags(rel, diags)
			if tc == nil {
				continue
			}
			for _, bb := range tc.Blocks {
				r.backends = append(r.backends, backendDecl{kind: bb.Labels[0], file: rel, line: bb.DefRange.Start.Line})
			}
		case "module":
			r.decodeModule(rel, b)
		}
	}
}

func (r *fileResult) decodeModule(rel string, b *hcl.Block) {
	mc, _, diags := b.Body.PartialContent(moduleSchema)
	r.addDiags(rel, diags)
	if mc == nil {
		return
	}
	name := b.Labels[0]
	attr, ok := mc.Attributes["source"]
	if !ok {
		r.diags = append(r.diags, Diagnostic{File: rel, Line: b.DefRange.Start.Line,
			Message: fmt.Sprintf("module %q has no source", name)})
		return
	}
	v, vd := attr.Expr.Value(nil)
	if vd.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		r.diags = append(r.diags, Diagnostic{File: rel, Line: attr.Range.Start.Line,
			Message: fmt.Sprintf("module %q: source must be a literal string", name)})
		return
	}
	r.modules = append(r.modules, moduleCall{name: name, source: v.AsString(), file: rel, line: attr.Range.Start.Line})
}

func (r *fileResult) addDiags(rel string, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		diag := Diagnostic{File: rel, Message: d.Summary}
		if d.Detail != "" {
			diag.Message += ": " + d.Detail
		}
		if d.Subject != nil {
			diag.Line = d.Subject.Start.Line
			if d.Subject.Filename != "" {
				diag.File = d.Subject.Filename
			}
		}
		r.diags = append(r.diags, diag)
	}
}

// Decls is what one Terraform file declares about the module graph, read
// the way Scan reads it.
type Decls struct {
	// Backend is set when the file declares a backend (or, when it does
	// not parse, appears to).
	Backend bool
	// Calls are the repo-relative dirs of the local modules it calls that
	// stay inside the repository, in file order.
	Calls []string
}

// FileDecls reads rel (a repo-relative slash path below root) as Scan does
// and returns its backend and local module calls, so a caller that parsed
// most files its own way can place the ones it could not parse exactly as
// Scan would. Only I/O failures are errors.
func FileDecls(root *os.Root, rel string) (Decls, error) {
	r := &reader{root: root}
	defer r.close()
	res, err := (*Scanner)(nil).parseFile(r, rel)
	if err != nil {
		return Decls{}, fmt.Errorf("read module graph of %s: %w", rel, err)
	}
	d := Decls{Backend: len(res.backends) > 0}
	for _, mc := range res.modules {
		if target, local, escapes := resolveSource(path.Dir(rel), mc.source); local && !escapes {
			d.Calls = append(d.Calls, target)
		}
	}
	return d, nil
}
