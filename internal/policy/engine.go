package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
)

// Engine evaluates the HCL and plan stage policies. It is immutable after New
// and safe for concurrent use.
type Engine struct {
	timeout time.Duration
	rules   []RuleInfo
	pkgs    map[string]RuleInfo // by package path, e.g. tfpr.hcl.external_data
	files   map[string]string   // policy file -> package path, to attribute errors
	stages  map[string]*stageQuery
	cache   *fileCache
	// denyIgnorable lists the deny rules an in-code tfpr:ignore may suppress.
	denyIgnorable []string
}

type stageQuery struct {
	pq       rego.PreparedEvalQuery
	bindings []binding
}

// binding names the query variable that holds one package's deny or warn set.
type binding struct {
	v    string
	pkg  string
	kind Severity
}

// progressBuiltin is called by the stage query before each package so a
// timeout or error can name the policy that was running. It is pure
// bookkeeping, invisible to policies' results.
const progressBuiltin = "tfpr.internal_progress"

type progressKey struct{}

// allowedBuiltin refuses network and runtime builtins at compile time:
// policies see only the input and params, never the network or the host.
func allowedBuiltin(name string) bool {
	switch {
	case name == "opa.runtime", strings.HasPrefix(name, "http."), strings.HasPrefix(name, "net."):
		return false
	}
	return true
}

func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return !allowedBuiltin(b.Name) })
	caps.AllowNet = []string{}
	return caps
}

// parsePolicies reads every non-test .rego file (or, with tests, every one).
func parsePolicies(fsys fs.FS, withTests bool) (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	var errs []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return nil
		}
		if !withTests && strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read policy %s: %w", p, err)
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, regoErrors(err)...)
			return nil
		}
		modules[p] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid policies:\n%s", strings.Join(errs, "\n"))
	}
	if len(modules) == 0 {
		return nil, errors.New("load policies: no .rego files found")
	}
	return modules, nil
}

// regoErrors renders OPA errors as "file:line: message" lines.
func regoErrors(err error) []string {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Location != nil {
			out = append(out, fmt.Sprintf("%s:%d: %s: %s", e.Location.File, e.Location.Row, e.Code, e.Message))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", e.Code, e.Message))
		}
	}
	return out
}

func newCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1).
		WithUseTypeCheckAnnotations(true)
}

func newStore(params map[string]any) storage.Store {
	return inmem.NewFromObject(map[string]any{"tfpr": map[string]any{"params": params}})
}

// New compiles every *.rego file in policies except *_test.rego and prepares
// one query per stage.
func New(ctx context.Context, policies fs.FS, opts Options) (*Engine, error) {
	modules, err := parsePolicies(policies, false)
	if err != nil {
		return nil, err
	}
	progressDecl := &ast.Builtin{Name: progressBuiltin, Decl: types.NewFunction(types.Args(types.S), types.B)}
	compiler := newCompiler().WithBuiltins(map[string]*ast.Builtin{progressBuiltin: progressDecl})
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile policies:\n%s", strings.Join(regoErrors(compiler.Errors), "\n"))
	}
	e := &Engine{timeout: opts.Timeout, pkgs: map[string]RuleInfo{}, files: map[string]string{}, stages: map[string]*stageQuery{}, cache: newFileCache()}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	byStage, err := e.collectRules(compiler, modules)
	if err != nil {
		return nil, err
	}
	params := mergeParams(opts.Params)
	e.denyIgnorable = suppressible(params)
	store := newStore(params)
	for stage, bs := range byStage {
		var q []string
		last := ""
		for _, b := range bs {
			if b.pkg != last {
				q = append(q, fmt.Sprintf("%s(%q)", progressBuiltin, b.pkg))
				last = b.pkg
			}
			q = append(q, fmt.Sprintf("%s := [r | some r in data.%s.%s]", b.v, b.pkg, b.kind))
		}
		pq, err := rego.New(
			rego.Query(strings.Join(q, "; ")),
			rego.Compiler(compiler),
			rego.Store(store),
			rego.StrictBuiltinErrors(true),
			rego.Function1(&rego.Function{Name: progressBuiltin, Decl: progressDecl.Decl, Nondeterministic: true}, markProgress),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s policies: %w", stage, err)
		}
		e.stages[stage] = &stageQuery{pq: pq, bindings: bs}
	}
	return e, nil
}

// progress records the package being evaluated by one evaluation.
type progress struct{ pkg atomic.Pointer[string] }

func markProgress(bctx rego.BuiltinContext, pkg *ast.Term) (*ast.Term, error) {
	if p, ok := bctx.Context.Value(progressKey{}).(*progress); ok {
		if s, ok := pkg.Value.(ast.String); ok {
			name := string(s)
			p.pkg.Store(&name)
		}
	}
	return ast.BooleanTerm(true), nil
}

// collectRules reads METADATA of every tfpr.hcl.* and tfpr.plan.* package
// and returns the query bindings per stage, in package order.
func (e *Engine) collectRules(compiler *ast.Compiler, modules map[string]*ast.Module) (map[string][]binding, error) {
	as := compiler.GetAnnotationSet()
	type pkgState struct {
		info       RuleInfo
		deny, warn bool
		loc        string
	}
	pkgs := map[string]*pkgState{}
	var errs []string
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		m := compiler.Modules[name]
		path := strings.TrimPrefix(m.Package.Path.String(), "data.")
		parts := strings.Split(path, ".")
		if len(parts) < 3 || parts[0] != "tfpr" || (parts[1] != StageHCL && parts[1] != StagePlan) {
			continue
		}
		e.files[name] = path
		st := pkgs[path]
		if st == nil {
			st = &pkgState{info: RuleInfo{Package: path, Stage: parts[1], File: name}, loc: fmt.Sprintf("%s:%d", name, m.Package.Location.Row)}
			pkgs[path] = st
		}
		if a := as.GetPackageScope(m.Package); a != nil {
			st.info.Title, st.info.Description, st.info.File = a.Title, a.Description, name
			if id, ok := a.Custom["id"].(string); ok {
				st.info.ID = id
			}
			if sev, ok := a.Custom["severity"].(string); ok {
				st.info.Severity = Severity(sev)
			}
		}
		for _, r := range m.Rules {
			n := r.Head.Name.String()
			if len(r.Head.Ref()) != 1 || (n != "deny" && n != "warn") {
				continue
			}
			if r.Head.RuleKind() != ast.MultiValue {
				errs = append(errs, fmt.Sprintf("%s:%d: %s must be a multi-value rule (%s contains result if { ... })", name, r.Location.Row, n, n))
				continue
			}
			if n == "deny" {
				st.deny = true
			} else {
				st.warn = true
			}
		}
	}
	seen := map[string]string{}
	byStage := map[string][]binding{}
	paths := make([]string, 0, len(pkgs))
	for p := range pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i, p := range paths {
		st := pkgs[p]
		switch {
		case st.info.ID == "" || st.info.Title == "":
			errs = append(errs, fmt.Sprintf("%s: package %s needs a # METADATA block with title and custom.id", st.loc, p))
			continue
		case st.info.Severity != SeverityDeny && st.info.Severity != SeverityWarn:
			errs = append(errs, fmt.Sprintf("%s: package %s: custom.severity must be deny or warn, got %q", st.loc, p, st.info.Severity))
			continue
		case seen[st.info.ID] != "":
			errs = append(errs, fmt.Sprintf("%s: rule id %s of package %s is already used by %s", st.loc, st.info.ID, p, seen[st.info.ID]))
			continue
		}
		seen[st.info.ID] = p
		e.pkgs[p] = st.info
		e.rules = append(e.rules, st.info)
		if st.deny {
			byStage[st.info.Stage] = append(byStage[st.info.Stage], binding{v: fmt.Sprintf("d%d", i), pkg: p, kind: SeverityDeny})
		}
		if st.warn {
			byStage[st.info.Stage] = append(byStage[st.info.Stage], binding{v: fmt.Sprintf("w%d", i), pkg: p, kind: SeverityWarn})
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid policies:\n%s", strings.Join(errs, "\n"))
	}
	return byStage, nil
}

// Rules lists the loaded policies, sorted by package.
func (e *Engine) Rules() []RuleInfo { return slices.Clone(e.rules) }

// result is one deny or warn value produced by a package.
type result struct {
	info  RuleInfo
	kind  Severity
	value any
}

// eval runs one stage. A failing or slow policy yields a policy-error
// finding, never an empty result; only cancellation by the caller is an
// error.
func (e *Engine) eval(ctx context.Context, stage string, input ast.Value, dir string) ([]result, *Finding, error) {
	sq := e.stages[stage]
	if sq == nil {
		return nil, nil, nil
	}
	evalCtx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	prog := &progress{}
	evalCtx = context.WithValue(evalCtx, progressKey{}, prog)
	rs, err := sq.pq.Eval(evalCtx, rego.EvalParsedInput(input))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("evaluate %s policies for %s: %w", stage, dir, ctx.Err())
		}
		return nil, e.policyError(stage, dir, prog, err), nil
	}
	if len(rs) != 1 {
		return nil, e.policyError(stage, dir, prog, fmt.Errorf("query returned %d results", len(rs))), nil
	}
	var out []result
	for _, b := range sq.bindings {
		vals, _ := rs[0].Bindings[b.v].([]any)
		for _, v := range vals {
			out = append(out, result{info: e.pkgs[b.pkg], kind: b.kind, value: v})
		}
	}
	return out, nil, nil
}

func (e *Engine) policyError(stage, dir string, prog *progress, err error) *Finding {
	pkg := ""
	if p := prog.pkg.Load(); p != nil {
		pkg = *p
	}
	var te *topdown.Error
	if errors.As(err, &te) && te.Location != nil {
		if p, ok := e.files[te.Location.File]; ok {
			pkg = p
		}
	}
	what := fmt.Sprintf("%s policies", stage)
	if info, ok := e.pkgs[pkg]; ok {
		what = fmt.Sprintf("policy %s (%s, %s)", info.ID, info.Package, info.File)
	}
	msg := fmt.Sprintf("%s failed: %v; the project is blocked until the policy is fixed", what, err)
	if errors.As(err, &te) && te.Code == topdown.CancelErr {
		msg = fmt.Sprintf("%s did not finish within %s; the project is blocked until the policy is fixed", what, e.timeout)
	}
	return &Finding{Rule: RulePolicyError, Title: "policy evaluation failed", Severity: SeverityDeny, File: dir, Message: msg}
}
