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
	"github.com/zclconf/go-cty/cty/function"
)

// Engine evaluates the HCL and plan stage policies. It is immutable after New
// and safe for concurrent use.
type Engine struct {
	timeout time.Duration
	rules   []RuleInfo
	pkgs    map[string]RuleInfo // by package path, e.g. tfpr.hcl.external_data
	files   map[string]string   // policy file -> package path, to attribute errors
	// stages holds per stage the query over a whole project's input; for
	// the HCL stage only the packages that cannot run per module.
	stages map[string]*stageQuery
	// local is the HCL query over one module part at a time: module-scope
	// packages that do not read input.project. nil when there are none.
	local *stageQuery
	// hclBindings lists all HCL bindings in package order, to join the
	// results of the two queries.
	hclBindings []binding
	cache       *fileCache
	parts       *partCache
	// denyIgnorable lists the deny rules an in-code tfpr:ignore may suppress.
	denyIgnorable []string
	// builtin holds the denials no policy directory can drop (builtin.go).
	builtin builtinPolicy
	// allowedFuncs lists the provider-defined functions a configuration
	// may call (params.allowed_provider_functions).
	allowedFuncs []string
	// lintTimeout bounds the lint of one project.
	lintTimeout time.Duration
	// funcs are the functions lint evaluates attribute values with.
	funcs map[string]function.Function
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
	if err := checkParams(opts.Params, modules); err != nil {
		return nil, err
	}
	progressDecl := &ast.Builtin{Name: progressBuiltin, Decl: types.NewFunction(types.Args(types.S), types.B)}
	compiler := newCompiler().WithBuiltins(map[string]*ast.Builtin{progressBuiltin: progressDecl})
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile policies:\n%s", strings.Join(regoErrors(compiler.Errors), "\n"))
	}
	e := &Engine{timeout: opts.Timeout, pkgs: map[string]RuleInfo{}, files: map[string]string{}, stages: map[string]*stageQuery{},
		funcs: guardedFuncs()}
	if !opts.NoCache {
		e.cache, e.parts = newFileCache(), newPartCache()
	}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	e.lintTimeout = opts.LintTimeout
	if e.lintTimeout <= 0 {
		e.lintTimeout = DefaultLintTimeout
	}
	byStage, scopes, err := e.collectRules(compiler, modules)
	if err != nil {
		return nil, err
	}
	params := mergeParams(opts.Params)
	e.denyIgnorable = suppressible(params)
	if e.builtin, err = newBuiltin(params); err != nil {
		return nil, err
	}
	e.allowedFuncs = stringList(params, "allowed_provider_functions")
	store := newStore(params)
	prepare := func(stage string, bs []binding) (*stageQuery, error) {
		if len(bs) == 0 {
			return nil, nil
		}
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
		return &stageQuery{pq: pq, bindings: bs}, nil
	}
	for stage, bs := range byStage {
		var whole, local []binding
		perModule := map[string]bool{}
		for _, b := range bs {
			split, ok := perModule[b.pkg]
			if !ok {
				ref, err := ast.ParseRef("data." + b.pkg)
				split = err == nil && stage == StageHCL && scopes[b.pkg] == ScopeModule && !readsProject(compiler, ref)
				perModule[b.pkg] = split
			}
			if split {
				local = append(local, b)
			} else {
				whole = append(whole, b)
			}
		}
		if e.stages[stage], err = prepare(stage, whole); err != nil {
			return nil, err
		}
		if e.stages[stage] == nil {
			delete(e.stages, stage)
		}
		if stage == StageHCL {
			e.hclBindings = bs
			if e.local, err = prepare(stage, local); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// progress records the package being evaluated by one evaluation.
type progress struct{ pkg atomic.Pointer[string] }

func (p *progress) name() string {
	if s := p.pkg.Load(); s != nil {
		return *s
	}
	return ""
}

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
// and returns the query bindings per stage, in package order, and each
// package's scope.
func (e *Engine) collectRules(compiler *ast.Compiler, modules map[string]*ast.Module) (map[string][]binding, map[string]string, error) {
	as := compiler.GetAnnotationSet()
	type pkgState struct {
		info       RuleInfo
		scope      any
		stages     any
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
			st.scope = a.Custom["scope"]
			st.stages = a.Custom["stages"]
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
	scopes := map[string]string{}
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
		scope, err := checkScope(st.info.Stage, st.scope)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: package %s: %v", st.loc, p, err))
			continue
		}
		stages, err := checkStages(st.info.Stage, st.stages)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: package %s: %v", st.loc, p, err))
			continue
		}
		scopes[p] = scope
		seen[st.info.ID] = p
		if len(stages) > 1 {
			st.info.Stages = stages
		}
		e.pkgs[p] = st.info
		e.rules = append(e.rules, st.info)
		for _, stage := range stages {
			if st.deny {
				byStage[stage] = append(byStage[stage], binding{v: fmt.Sprintf("d%d", i), pkg: p, kind: SeverityDeny})
			}
			if st.warn {
				byStage[stage] = append(byStage[stage], binding{v: fmt.Sprintf("w%d", i), pkg: p, kind: SeverityWarn})
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("invalid policies:\n%s", strings.Join(errs, "\n"))
	}
	return byStage, scopes, nil
}

// Rules lists the loaded policies, sorted by package.
func (e *Engine) Rules() []RuleInfo { return slices.Clone(e.rules) }

// result is one deny or warn value produced by a package.
type result struct {
	info  RuleInfo
	kind  Severity
	value any
}

// evalResult holds what one evaluation produced, per binding.
type evalResult struct {
	vals map[string][]any
}

// evalFailure is a policy that failed or timed out: a policy-error finding,
// never an empty result.
type evalFailure struct {
	pkg string // the package that was running, when known
	err error
}

func (f *evalFailure) Error() string { return f.err.Error() }

// evalQuery runs one query on input with the engine's time limit. Failing
// policies are an *evalFailure; only cancellation by the caller is another
// error.
func (e *Engine) evalQuery(ctx context.Context, sq *stageQuery, input ast.Value) (*evalResult, error) {
	evalCtx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	prog := &progress{}
	evalCtx = context.WithValue(evalCtx, progressKey{}, prog)
	rs, err := sq.pq.Eval(evalCtx, rego.EvalParsedInput(input))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &evalFailure{pkg: prog.name(), err: err}
	}
	if len(rs) != 1 {
		return nil, &evalFailure{pkg: prog.name(), err: fmt.Errorf("query returned %d results", len(rs))}
	}
	r := &evalResult{vals: map[string][]any{}}
	for _, b := range sq.bindings {
		if vals, _ := rs[0].Bindings[b.v].([]any); len(vals) > 0 {
			r.vals[b.v] = vals
		}
	}
	return r, nil
}

// failed turns an evalQuery error into a policy-error finding, or returns
// the caller's cancellation.
func (e *Engine) failed(stage, dir string, err error) (*Finding, error) {
	var f *evalFailure
	if errors.As(err, &f) {
		return e.policyError(stage, dir, f.pkg, f.err), nil
	}
	return nil, fmt.Errorf("evaluate %s policies for %s: %w", stage, dir, err)
}

// eval runs the whole-input query of one stage. A failing or slow policy
// yields a policy-error finding, never an empty result; only cancellation
// by the caller is an error.
func (e *Engine) eval(ctx context.Context, stage string, input ast.Value, dir string) ([]result, *Finding, error) {
	sq := e.stages[stage]
	if sq == nil {
		return nil, nil, nil
	}
	r, err := e.evalQuery(ctx, sq, input)
	if err != nil {
		pe, err := e.failed(stage, dir, err)
		return nil, pe, err
	}
	return e.join(sq.bindings, r), nil, nil
}

// evalHCL evaluates the HCL stage for a project: the module-scope packages
// on each module part (a part's results are kept with it, so a module
// shared by many projects is evaluated once), the others on the whole
// input.
func (e *Engine) evalHCL(ctx context.Context, c *config) ([]result, *Finding, error) {
	var sources []*evalResult
	if e.local != nil {
		for _, p := range c.parts {
			r, err := p.local.get(ctx, func() (*evalResult, error) { return e.evalQuery(ctx, e.local, p.subInput()) })
			if err != nil {
				pe, err := e.failed(StageHCL, c.dir, err)
				return nil, pe, err
			}
			sources = append(sources, r)
		}
	}
	if sq := e.stages[StageHCL]; sq != nil {
		r, err := e.evalQuery(ctx, sq, c.input())
		if err != nil {
			pe, err := e.failed(StageHCL, c.dir, err)
			return nil, pe, err
		}
		sources = append(sources, r)
	}
	return e.join(e.hclBindings, sources...), nil, nil
}

// join lists the results of bindings in package order. Values a package
// produced in several evaluations are merged as the one set a single
// evaluation would have produced: deduplicated, in Rego's order.
func (e *Engine) join(bindings []binding, sources ...*evalResult) []result {
	var out []result
	for _, b := range bindings {
		var vals []any
		n := 0
		for _, s := range sources {
			if v := s.vals[b.v]; len(v) > 0 {
				vals = append(vals, v...)
				n++
			}
		}
		if n > 1 {
			vals = setOf(vals)
		}
		for _, v := range vals {
			out = append(out, result{info: e.pkgs[b.pkg], kind: b.kind, value: v})
		}
	}
	return out
}

// setOf returns vals as a Rego set would hold them.
func setOf(vals []any) []any {
	set := ast.NewSet()
	for _, v := range vals {
		av, err := ast.InterfaceToValue(v)
		if err != nil {
			// Values come from Rego and always convert back.
			return vals
		}
		set.Add(ast.NewTerm(av))
	}
	out := make([]any, 0, set.Len())
	for _, t := range set.Slice() {
		v, err := ast.JSON(t.Value)
		if err != nil {
			return vals
		}
		out = append(out, v)
	}
	return out
}

func (e *Engine) policyError(stage, dir, pkg string, err error) *Finding {
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
