package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/zclconf/go-cty/cty"
)

// maxFileSize is the largest Terraform file tfpr parses; a larger one is
// denied, never skipped, since terraform would still load it.
const maxFileSize = 1 << 20

// rawBlock is a syntax-neutral view of one HCL block, from either native or
// JSON syntax. It doubles as the location index used to place findings.
type rawBlock struct {
	typ    string
	labels []string
	file   string // repo-relative path
	start  int    // header line
	end    int    // closing line
	attrs  []*rawAttr
	blocks []*rawBlock

	// Rego input parts, built once at parse time so cached files cost
	// nothing to re-evaluate: {name: attr}, [nested block docs], the range.
	attrsTerm  *ast.Term
	blocksTerm *ast.Term
	rangeTerm  *ast.Term
	// nestedTerm is this block in nested form; top-level blocks other than
	// terraform never appear so and have none.
	nestedTerm *ast.Term
}

type rawAttr struct {
	name  string
	start int
	end   int
	value *ast.Term // static value; nil when the expression has none
	root  string    // root name when the expression is a bare traversal
	term  *ast.Term
	// expr is kept when there is no static value, to evaluate the
	// attribute in its module's context (see values.go).
	expr hcl.Expression
}

func (b *rawBlock) attr(name string) *rawAttr {
	for _, a := range b.attrs {
		if a.name == name {
			return a
		}
	}
	return nil
}

// sourceFile is one parsed Terraform file. It is immutable once parsed and
// may be shared between evaluations through the Engine's cache. It does not
// know whether its directory is linted as a project or as a module: the
// same parse serves both.
type sourceFile struct {
	path     string // repo-relative slash path
	blocks   []*rawBlock
	ignores  []ignore
	findings []Finding // syntax errors
	fileRefs []fileRef // file-function calls, checked against each checkout
}

// isTerraformFile mirrors which files terraform itself loads from a
// directory, so tfpr lints exactly what terraform would run.
func isTerraformFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) {
		return false
	}
	return strings.HasSuffix(name, ".tf") || strings.HasSuffix(name, ".tf.json")
}

// dirFiles is one directory as read from the checkout: its Terraform files
// parsed, and what could not be read or parsed as findings.
type dirFiles struct {
	dir      string
	files    []*sourceFile
	findings []Finding // unreadable, skipped or invalid files
	unsafe   []Finding // see unsafePaths; they count when dir is a project
	// vars are the .tfvars files terraform loads when dir is a project.
	vars []*varsFile
	// key fingerprints the names, contents and findings, for caches that
	// outlive one checkout.
	key string
	// err is set when the directory itself cannot be read.
	err error
}

// readDir reads and parses the Terraform files of one directory below root.
// Problems with individual files become findings; an unreadable directory
// is df.err. Only a cancelled ctx is an error.
func readDir(ctx context.Context, root *os.Root, dir string, cache *fileCache, kit *termKit) (*dirFiles, error) {
	df := &dirFiles{dir: dir}
	d, err := root.Open(dirOrDot(dir))
	if err != nil {
		df.err = fmt.Errorf("read terraform dir %s: %w", dir, err)
		return df, nil
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		df.err = fmt.Errorf("read terraform dir %s: %w", dir, err)
		return df, nil
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	df.unsafe = unsafePaths(dir, entries)
	// Without an Engine cache nothing outlives the Tree and no key is needed.
	var h hash.Hash
	if cache != nil {
		h = sha256.New()
		io.WriteString(h, dir)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() && isVarsFile(e.Name()) {
			df.readVars(root, d, e, h)
			continue
		}
		if e.IsDir() || !isTerraformFile(e.Name()) {
			continue
		}
		rel := path.Join(dir, e.Name())
		// Regular files take the one-step read relative to the directory;
		// symlinks and anything unusual the checkout-wide path, which also
		// words the findings.
		var src []byte
		var f *Finding
		if e.Type().IsRegular() {
			if b, ok := readRegular(d, e.Name()); ok {
				src, f = b, checkContent(rel, b)
			}
		}
		if src == nil {
			src, f = readSource(root, rel)
		}
		if f != nil {
			df.findings = append(df.findings, *f)
			if h != nil {
				fmt.Fprintf(h, "\x00!%s\x00%s\x00%s", rel, f.Severity, f.Message)
			}
			continue
		}
		var sum [sha256.Size]byte
		if h != nil {
			sum = sha256.Sum256(src)
			fmt.Fprintf(h, "\x00%s\x00%x", rel, sum)
		}
		sf := cache.parse(rel, sum, src, kit)
		df.findings = append(df.findings, sf.findings...)
		for _, ref := range sf.fileRefs {
			if f := checkFileRef(root, rel, ref); f != nil {
				df.findings = append(df.findings, *f)
				if h != nil {
					fmt.Fprintf(h, "\x00!%s\x00%d\x00%s", rel, f.Line, f.Message)
				}
			}
		}
		df.files = append(df.files, sf)
	}
	if h != nil {
		df.key = string(h.Sum(nil))
	}
	return df, nil
}

func dirOrDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

func skipFile(rel string, sev Severity, format string, args ...any) *Finding {
	return &Finding{Rule: RuleParse, Title: "file not linted", Severity: sev, File: rel,
		Message: fmt.Sprintf(format, args...)}
}

// readSource returns the bytes of rel below root, or a finding explaining
// why tfpr cannot lint it.
func readSource(root *os.Root, rel string) ([]byte, *Finding) {
	skip := func(sev Severity, format string, args ...any) *Finding { return skipFile(rel, sev, format, args...) }
	// Stat follows symlinks but refuses any that leave the checkout; terraform
	// would read such a file, so it must not pass unseen.
	st, err := root.Stat(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, skip(SeverityDeny, "cannot read %s: dangling symlink", rel)
		}
		return nil, skip(SeverityDeny, "cannot read %s: %v (symlinks must stay inside the repository)", rel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, skip(SeverityDeny, "%s is not a regular file", rel)
	}
	if st.Size() > maxFileSize {
		// Terraform would load it; a file the policies cannot check must
		// not reach terraform unseen.
		return nil, skip(SeverityDeny, "%s is %d bytes, over the %d byte limit tfpr checks; terraform would load it unchecked, so split it", rel, st.Size(), maxFileSize)
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, skip(SeverityDeny, "cannot read %s: %v", rel, err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, skip(SeverityDeny, "cannot read %s: %v", rel, err)
	}
	if len(src) > maxFileSize {
		return nil, skip(SeverityDeny, "%s is over the %d byte limit tfpr checks; terraform would load it unchecked, so split it", rel, maxFileSize)
	}
	if f := checkContent(rel, src); f != nil {
		return nil, f
	}
	return src, nil
}

// checkContent refuses what is not text.
func checkContent(rel string, src []byte) *Finding {
	if bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src) {
		return skipFile(rel, SeverityWarn, "skipped %s: binary content", rel)
	}
	return nil
}

// fileParse is the state of parsing one file.
type fileParse struct {
	sf   *sourceFile
	src  []byte
	json bool
	kit  *termKit
}

// parseSource parses one file. Syntax errors become deny findings at their
// position; whatever parsed is still returned so other policies can run.
func parseSource(rel string, src []byte, kit *termKit) *sourceFile {
	sf := &sourceFile{path: rel}
	fp := &fileParse{sf: sf, src: src, json: strings.HasSuffix(rel, ".json"), kit: kit}
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(rel, ".json") {
		f, diags = hcljson.Parse(src, rel)
	} else {
		f, diags = hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	}
	sf.findings = diagFindings(rel, diags)
	sf.ignores = ignoreComments(rel, src)
	if f == nil || f.Body == nil {
		return sf
	}
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		for _, b := range body.Blocks {
			sf.blocks = append(sf.blocks, fp.nativeBlock(b, false))
		}
		sf.fileRefs = nativeFileRefs(body)
	} else {
		sf.blocks = fp.jsonBlocks(f.Body)
		sf.fileRefs = jsonFileRefs(src)
	}
	return sf
}

func diagFindings(rel string, diags hcl.Diagnostics) []Finding {
	var out []Finding
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		f := Finding{Rule: RuleParse, Title: "invalid HCL", Severity: SeverityDeny, File: rel,
			Message: strings.TrimSpace(d.Summary + ": " + d.Detail)}
		if d.Detail == "" {
			f.Message = d.Summary
		}
		if d.Subject != nil {
			f.Line, f.EndLine = d.Subject.Start.Line, d.Subject.End.Line
		}
		out = append(out, f)
	}
	return out
}

func (fp *fileParse) nativeBlock(b *hclsyntax.Block, nested bool) *rawBlock {
	rb := &rawBlock{
		typ: b.Type, labels: b.Labels, file: fp.sf.path,
		start: b.TypeRange.Start.Line, end: b.CloseBraceRange.End.Line,
	}
	rb.attrs = make([]*rawAttr, 0, len(b.Body.Attributes))
	for _, a := range b.Body.Attributes {
		rb.attrs = append(rb.attrs, fp.newAttr(a.Name, a.Expr, a.SrcRange.Start.Line, a.SrcRange.End.Line))
	}
	// Attributes live in a map; sort so input and findings are deterministic.
	slices.SortFunc(rb.attrs, func(x, y *rawAttr) int {
		if x.start != y.start {
			return x.start - y.start
		}
		return strings.Compare(x.name, y.name)
	})
	for _, nb := range b.Body.Blocks {
		rb.blocks = append(rb.blocks, fp.nativeBlock(nb, true))
	}
	fp.kit.finish(rb, nested)
	return rb
}

// jsonNested lists the nested block types terraform knows per parent, for
// JSON syntax where blocks and object attributes look alike.
func jsonNested(parent string) []hcl.BlockHeaderSchema {
	switch parent {
	case "":
		return []hcl.BlockHeaderSchema{
			{Type: "resource", LabelNames: []string{"type", "name"}},
			{Type: "data", LabelNames: []string{"type", "name"}},
			{Type: "module", LabelNames: []string{"name"}},
			{Type: "provider", LabelNames: []string{"name"}},
			{Type: "variable", LabelNames: []string{"name"}},
			{Type: "output", LabelNames: []string{"name"}},
			{Type: "check", LabelNames: []string{"name"}},
			{Type: "locals"}, {Type: "terraform"}, {Type: "moved"}, {Type: "import"}, {Type: "removed"},
		}
	case "terraform":
		return []hcl.BlockHeaderSchema{
			{Type: "backend", LabelNames: []string{"type"}},
			{Type: "required_providers"}, {Type: "cloud"},
		}
	case "resource", "data":
		return []hcl.BlockHeaderSchema{
			{Type: "lifecycle"}, {Type: "connection"},
			{Type: "provisioner", LabelNames: []string{"type"}},
			{Type: "dynamic", LabelNames: []string{"name"}},
		}
	case "check":
		return []hcl.BlockHeaderSchema{{Type: "data", LabelNames: []string{"type", "name"}}, {Type: "assert"}}
	case "variable":
		return []hcl.BlockHeaderSchema{{Type: "validation"}}
	}
	return nil
}

// jsonBlocks walks a JSON body. Known nested blocks come from jsonNested; any
// other property holding an array of objects is taken as repeated nested
// blocks (how terraform JSON spells e.g. allow { ... }), and everything else
// is an attribute.
func (fp *fileParse) jsonBlocks(body hcl.Body) []*rawBlock {
	content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: jsonNested("")})
	var out []*rawBlock
	if content == nil {
		return nil
	}
	for _, b := range content.Blocks {
		rb := &rawBlock{typ: b.Type, labels: b.Labels, file: fp.sf.path,
			start: b.DefRange.Start.Line, end: b.DefRange.End.Line}
		fp.fillJSONBody(rb, b.Body, false)
		out = append(out, rb)
	}
	return out
}

func (fp *fileParse) fillJSONBody(rb *rawBlock, body hcl.Body, nested bool) {
	content, remain, _ := body.PartialContent(&hcl.BodySchema{Blocks: jsonNested(rb.typ)})
	if content != nil {
		for _, b := range content.Blocks {
			nb := &rawBlock{typ: b.Type, labels: b.Labels, file: fp.sf.path,
				start: b.DefRange.Start.Line, end: b.DefRange.End.Line}
			fp.fillJSONBody(nb, b.Body, true)
			rb.blocks = append(rb.blocks, nb)
		}
	}
	if remain != nil {
		attrs, _ := remain.JustAttributes()
		for _, a := range attrs {
			if objs, ok := objectList(a.Expr); ok {
				for _, o := range objs {
					rb.blocks = append(rb.blocks, fp.jsonObjectBlock(a.Name, o))
				}
				continue
			}
			rb.attrs = append(rb.attrs, fp.newAttr(a.Name, a.Expr, a.Range.Start.Line, a.Range.End.Line))
		}
	}
	slices.SortFunc(rb.attrs, func(x, y *rawAttr) int { return x.start - y.start })
	slices.SortStableFunc(rb.blocks, func(x, y *rawBlock) int { return x.start - y.start })
	for _, a := range rb.attrs {
		rb.end = max(rb.end, a.end)
	}
	for _, b := range rb.blocks {
		rb.end = max(rb.end, b.end)
	}
	fp.kit.finish(rb, nested)
}

// objectList reports whether expr is a JSON array whose elements are all
// objects, returning the element expressions.
func objectList(expr hcl.Expression) ([]hcl.Expression, bool) {
	elems, diags := hcl.ExprList(expr)
	if diags.HasErrors() || len(elems) == 0 {
		return nil, false
	}
	for _, e := range elems {
		if _, d := hcl.ExprMap(e); d.HasErrors() {
			return nil, false
		}
	}
	return elems, true
}

func (fp *fileParse) jsonObjectBlock(typ string, expr hcl.Expression) *rawBlock {
	r := expr.Range()
	rb := &rawBlock{typ: typ, file: fp.sf.path, start: r.Start.Line, end: r.End.Line}
	pairs, _ := hcl.ExprMap(expr)
	for _, p := range pairs {
		name := hcl.ExprAsKeyword(p.Key)
		if name == "" {
			k, d := p.Key.Value(nil)
			if d.HasErrors() || !k.IsKnown() || k.IsNull() || !k.Type().Equals(cty.String) {
				continue
			}
			name = k.AsString()
		}
		if objs, ok := objectList(p.Value); ok {
			for _, o := range objs {
				rb.blocks = append(rb.blocks, fp.jsonObjectBlock(name, o))
			}
			continue
		}
		rb.attrs = append(rb.attrs, fp.newAttr(name, p.Value, p.Key.Range().Start.Line, p.Value.Range().End.Line))
	}
	fp.kit.finish(rb, true)
	return rb
}
