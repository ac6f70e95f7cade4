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
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/zclconf/go-cty/cty"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// maxFileSize is the largest Terraform file tfpr parses; a larger one is
// denied, never skipped, since terraform would still load it.
const maxFileSize = tfsource.MaxFileSize

// maxFilesPerDir bounds the files tfpr reads from one directory; a
// directory with more is denied.
const maxFilesPerDir = tfsource.MaxFilesPerDir

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
	findings []Finding  // syntax errors
	calls    []funcCall // judged function calls, checked per project and checkout
}

// dirFiles is one directory as read from the checkout: its Terraform files
// parsed, and what could not be read or parsed as findings.
type dirFiles struct {
	dir      string
	files    []*sourceFile
	findings []Finding // unreadable, skipped or invalid files
	unsafe   []Finding // see unsafePaths; they count when dir is a project
	// unparsed are the files terraform loads whose blocks are not all in
	// files: refused, unreadable or with syntax errors.
	unparsed []string
	// vars are the .tfvars files terraform loads when dir is a project.
	vars []*varsFile
	// key fingerprints the names, contents and findings, for caches that
	// outlive one checkout.
	key string
	// err is set when the directory itself cannot be read.
	err error

	// settled is set once Tree.Settle has dropped the expressions that
	// only building module parts reads; mu orders that against builds.
	mu      sync.RWMutex
	settled bool
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
	df.unsafe = unsafePaths(root, dir, entries)
	// Without an Engine cache nothing outlives the Tree and no key is needed.
	var h hash.Hash
	if cache != nil {
		h = sha256.New()
		io.WriteString(h, dir)
	}
	loaded := 0
	for _, e := range entries {
		if !e.IsDir() && tfsource.Loaded(e.Name()) {
			loaded++
		}
	}
	if loaded > maxFilesPerDir {
		f := Finding{Rule: RuleParse, Title: "too many files", Severity: SeverityDeny, File: dirOrDot(dir),
			Message: fmt.Sprintf("%s holds %d Terraform files, over the %d tfpr checks in one directory; terraform would load them all, so split the directory", dirOrDot(dir), loaded, maxFilesPerDir)}
		df.findings = append(df.findings, f)
		for _, e := range entries {
			if !e.IsDir() && tfsource.Loaded(e.Name()) {
				df.unparsed = append(df.unparsed, path.Join(dir, e.Name()))
			}
		}
		if h != nil {
			fmt.Fprintf(h, "\x00!%s", f.Message)
			df.key = string(h.Sum(nil))
		}
		return df, nil
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.IsDir() {
			continue
		}
		if isVarsFile(e.Name()) {
			df.readVars(root, d, e, h)
			continue
		}
		kind := tfsource.KindOf(e.Name())
		if kind == tfsource.Ignored {
			continue
		}
		rel := path.Join(dir, e.Name())
		var src []byte
		var f *Finding
		switch kind {
		case tfsource.Override:
			// At what it overrides, past any license header.
			line := 1
			if src, rf := readEntry(root, d, e, rel); rf == nil {
				line = firstCodeLine(src)
			}
			f = &Finding{Rule: RuleUnsafePath, Title: "override file", Severity: SeverityDeny, File: rel, Line: line, EndLine: line,
				Message: fmt.Sprintf("%s is an override file: terraform merges it over the other files after they are read, so it could change what the policies approved; put its blocks in a normal .tf file", rel)}
		case tfsource.Tofu:
			// Denied rather than linted: OpenTofu would use it in place of
			// the .tf file of the same name and terraform would ignore it,
			// so one directory would be two configurations and the policies
			// could judge the one that never runs.
			f = &Finding{Rule: RuleUnsafePath, Title: "OpenTofu file", Severity: SeverityDeny, File: rel, Line: 1, EndLine: 1,
				Message: fmt.Sprintf("%s is an OpenTofu file: OpenTofu loads it instead of the .tf file of the same name and terraform ignores it, so the policies cannot know which configuration runs; use .tf files only", rel)}
		case tfsource.Native, tfsource.JSON:
			src, f = readEntry(root, d, e, rel)
		}
		if f != nil {
			df.findings = append(df.findings, *f)
			df.unparsed = append(df.unparsed, rel)
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
		df.files = append(df.files, sf)
		if len(sf.findings) > 0 {
			df.unparsed = append(df.unparsed, rel)
		}
	}
	if h != nil {
		df.key = string(h.Sum(nil))
	}
	return df, nil
}

// firstCodeLine returns the line of the first thing in src that is not a
// comment or blank, 1 when there is none.
func firstCodeLine(src []byte) int {
	inBlock := false
	for i, line := range strings.Split(string(src), "\n") {
		t := strings.TrimSpace(line)
		for t != "" {
			if inBlock {
				end := strings.Index(t, "*/")
				if end < 0 {
					t = ""
					break
				}
				inBlock, t = false, strings.TrimSpace(t[end+2:])
				continue
			}
			if strings.HasPrefix(t, "/*") {
				inBlock, t = true, t[2:]
				continue
			}
			if strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//") {
				t = ""
			}
			break
		}
		if t != "" {
			return i + 1
		}
	}
	return 1
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

// readEntry reads one directory entry. Regular files take the one-step
// read relative to the directory; symlinks and anything unusual the
// checkout-wide path, which also words the findings.
func readEntry(root *os.Root, d *os.File, e fs.DirEntry, rel string) ([]byte, *Finding) {
	if e.Type().IsRegular() {
		if b, ok := tfsource.ReadRegularAt(d, e.Name(), maxFileSize); ok {
			return b, checkContent(rel, b)
		}
	}
	return readSource(root, rel)
}

// readSource returns the bytes of rel below root, or a finding explaining
// why tfpr cannot lint it.
func readSource(root *os.Root, rel string) ([]byte, *Finding) {
	skip := func(format string, args ...any) *Finding { return skipFile(rel, SeverityDeny, format, args...) }
	src, err := tfsource.ReadFile(root, rel, maxFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, skip("cannot read %s: dangling symlink", rel)
	case errors.Is(err, tfsource.ErrNotRegular):
		return nil, skip("%s is not a regular file", rel)
	case errors.Is(err, tfsource.ErrTooLarge):
		// Terraform would load it; a file the policies cannot check must
		// not reach terraform unseen.
		return nil, skip("%s is over the %d byte limit tfpr checks; terraform would load it unchecked, so split it", rel, maxFileSize)
	case err != nil:
		// os.Root refuses symlinks that leave the checkout.
		return nil, skip("cannot read %s: %v (symlinks must stay inside the repository)", rel, err)
	}
	if f := checkContent(rel, src); f != nil {
		return nil, f
	}
	return src, nil
}

// checkContent refuses what is not text. Terraform would still load a file
// with one stray byte in a comment, so it is denied, not skipped.
func checkContent(rel string, src []byte) *Finding {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return contentFinding(rel, src, i, "a NUL byte")
	}
	if !utf8.Valid(src) {
		i := 0
		for i < len(src) {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return contentFinding(rel, src, i, "bytes that are not UTF-8")
	}
	return nil
}

func contentFinding(rel string, src []byte, at int, what string) *Finding {
	line := 1 + bytes.Count(src[:at], []byte{'\n'})
	return &Finding{Rule: RuleParse, Title: "file not linted", Severity: SeverityDeny, File: rel, Line: line, EndLine: line,
		Message: fmt.Sprintf("%s holds %s at line %d; terraform would load the file, but tfpr cannot check it as text, so remove them", rel, what, line)}
}

// fileParse is the state of parsing one file.
type fileParse struct {
	sf   *sourceFile
	src  []byte
	json bool
	kit  *termKit
}

// checkNesting refuses a file (.tf, .tf.json, .tfvars, .tfvars.json) whose
// nesting the HCL parser could not survive, before any parser sees it.
func checkNesting(rel string, src []byte) *Finding {
	syntax := tfsource.Config
	if strings.HasSuffix(rel, ".json") {
		syntax = tfsource.JSONSyntax
	}
	ne := tfsource.CheckNesting(src, syntax)
	if ne == nil {
		return nil
	}
	return &Finding{Rule: RuleParse, Title: "file not linted", Severity: SeverityDeny, File: rel, Line: ne.Line, EndLine: ne.Line,
		Message: fmt.Sprintf("%s: %v", rel, ne)}
}

// parseSource parses one file. Syntax errors become deny findings at their
// position; whatever parsed is still returned so other policies can run.
// Nesting the parser could not survive is refused before it runs.
func parseSource(rel string, src []byte, kit *termKit) *sourceFile {
	sf := &sourceFile{path: rel}
	isJSON := strings.HasSuffix(rel, ".json")
	fp := &fileParse{sf: sf, src: src, json: isJSON, kit: kit}
	if f := checkNesting(rel, src); f != nil {
		sf.findings = []Finding{*f}
		return sf
	}
	var f *hcl.File
	var diags hcl.Diagnostics
	if isJSON {
		f, diags = hcljson.Parse(src, rel)
	} else {
		f, diags = hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	}
	sf.findings = diagFindings(rel, diags)
	sf.ignores = ignoreComments(rel, src)
	if isJSON {
		var fs []Finding
		var deep bool
		sf.calls, fs, deep = jsonCalls(rel, src, diags.HasErrors())
		sf.findings = append(sf.findings, fs...)
		if deep {
			return sf
		}
	}
	if f == nil || f.Body == nil {
		return sf
	}
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		for _, b := range body.Blocks {
			sf.blocks = append(sf.blocks, fp.nativeBlock(b, false))
		}
		sf.calls = collectCalls(body, 0)
	} else {
		sf.blocks = fp.jsonBlocks(f.Body)
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
			{Type: "ephemeral", LabelNames: []string{"type", "name"}},
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
		resource := !nested && (rb.typ == "resource" || rb.typ == "data" || rb.typ == "ephemeral")
		for _, a := range attrs {
			if objs, ok := objectList(a.Expr); ok {
				for _, o := range objs {
					rb.blocks = append(rb.blocks, fp.jsonObjectBlock(a.Name, o))
				}
				continue
			}
			if resource && singleBlock(a.Expr) {
				rb.blocks = append(rb.blocks, fp.jsonObjectBlock(a.Name, a.Expr))
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

// singleBlock reports whether expr, in a resource body, is one nested
// block written as a single object ("allow": {"protocol": "tcp", ...}),
// which HCL's JSON syntax reads as one block when the schema says so.
// Without the provider's schema, the object's values decide: the map
// attributes of resources (labels, metadata, tags) hold strings, while a
// block holding a list, a number, a bool or an object is a block.
func singleBlock(expr hcl.Expression) bool {
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return false
	}
	for _, p := range pairs {
		v, d := p.Value.Value(nil)
		if d.HasErrors() {
			continue // a template: a string
		}
		if !v.Type().Equals(cty.String) {
			return true
		}
	}
	return false
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
		if singleBlock(p.Value) {
			rb.blocks = append(rb.blocks, fp.jsonObjectBlock(name, p.Value))
			continue
		}
		rb.attrs = append(rb.attrs, fp.newAttr(name, p.Value, p.Key.Range().Start.Line, p.Value.Range().End.Line))
	}
	fp.kit.finish(rb, true)
	return rb
}
