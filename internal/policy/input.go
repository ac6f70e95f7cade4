package policy

import (
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/tfpr/tfpr/internal/project"
)

// modulePart is one directory read as one Terraform module: the project's
// own dir (module "") or a local module it calls (module is then the dir).
// It holds that module's share of the input document and of the address
// index. Block terms carry the module but nothing about the caller, so one
// part serves every project calling the module. Immutable once built, but
// for the lazily computed fields.
type modulePart struct {
	dir, module string
	files       []*sourceFile

	resources, data, modules, providers []*ast.Term
	variables, outputs, locals          []*ast.Term
	reqProviders, tfBlocks              []*ast.Term
	resourcesByType, dataByType         typeIndex
	// Instances of resources and data sources by type, in the normalized
	// shape of policies/lib.rego.
	instancesByType, dataInstancesByType typeIndex
	// Project-level settings, only from module "" files; nil when absent.
	requiredVersion, backend, cloud *ast.Term

	kit   *termKit
	index map[string][]*rawBlock
	// calls are the local module calls by name, resolved to repo-relative
	// dirs, so plan addresses like module.a.x.y resolve to HCL.
	calls map[string]string

	subOnce sync.Once
	sub     ast.Value
	// local caches the module-scope packages' results on sub.
	local lazy[*evalResult]
}

// typeIndex groups block terms by type, keeping first-seen order.
type typeIndex struct {
	types []string
	terms map[string][]*ast.Term
}

func (x *typeIndex) add(typ string, t *ast.Term) {
	if x.terms == nil {
		x.terms = map[string][]*ast.Term{}
	}
	if _, ok := x.terms[typ]; !ok {
		x.types = append(x.types, typ)
	}
	x.terms[typ] = append(x.terms[typ], t)
}

// typeIndexTerm merges indexes in order into {type: [blocks]}.
func typeIndexTerm(xs ...*typeIndex) *ast.Term {
	if len(xs) == 1 {
		items := make([][2]*ast.Term, len(xs[0].types))
		for i, typ := range xs[0].types {
			items[i] = item(typ, ast.ArrayTerm(slices.Clip(xs[0].terms[typ])...))
		}
		return ast.ObjectTerm(items...)
	}
	var merged typeIndex
	for _, x := range xs {
		for _, typ := range x.types {
			for _, t := range x.terms[typ] {
				merged.add(typ, t)
			}
		}
	}
	return typeIndexTerm(&merged)
}

// projectTerm returns input.project; service and env come from the
// microservices/<service>/<env> layout when the dir is exactly that.
func projectTerm(dir string) *ast.Term {
	service, env, _ := project.ServiceEnv(dir)
	return ast.ObjectTerm(item("dir", str(dir)), item("service", str(service)), item("env", str(env)))
}

func (b *rawBlock) staticString(name string) string {
	if a := b.attr(name); a != nil && a.value != nil {
		s, _ := a.value.Value.(ast.String)
		return string(s)
	}
	return ""
}

// newModulePart builds the input share and address index of one module
// from its parsed files.
func newModulePart(dir, module string, files []*sourceFile, vars []*varsFile, kit *termKit) *modulePart {
	p := &modulePart{dir: dir, module: module, files: files, kit: kit, index: map[string][]*rawBlock{}, calls: map[string]string{}}
	item := kit.item
	ev := newEvaluator(p, vars)
	// Provider sources are needed to resolve resources, so collect them first.
	reqProviders := map[string]string{} // local name -> source
	for _, f := range files {
		for _, b := range f.blocks {
			if b.typ != "terraform" {
				continue
			}
			p.tfBlocks = append(p.tfBlocks, b.nestedTerm)
			if a := b.attr("required_version"); a != nil && a.value != nil && module == "" {
				p.requiredVersion = a.value
			}
			for _, nb := range b.blocks {
				switch nb.typ {
				case "required_providers":
					p.add("terraform.required_providers", nb)
					for _, a := range nb.attrs {
						source, version := requiredProvider(a)
						reqProviders[a.name] = source
						p.reqProviders = append(p.reqProviders, ast.ObjectTerm(
							item("name", str(a.name)), item("source", str(source)), item("version", str(version)),
							item("file", str(nb.file)), item("module", str(module)), item("range", kit.rangeTerm(a.start, a.end)),
						))
					}
				case "backend":
					if module == "" && p.backend == nil && len(nb.labels) == 1 {
						p.add("terraform.backend", nb)
						p.backend = p.blockTerm(nb, nb.labels[0], nb.labels[0], "terraform.backend")
					}
				case "cloud":
					if module == "" && p.cloud == nil {
						p.add("terraform.cloud", nb)
						p.cloud = p.blockTerm(nb, "cloud", "", "terraform.cloud")
					}
				}
			}
		}
	}
	providerOf := func(b *rawBlock, typ string) []*ast.Term {
		local, _, _ := strings.Cut(typ, "_")
		if a := b.attr("provider"); a != nil && a.root != "" {
			local = a.root
		}
		src, ok := reqProviders[local]
		if !ok {
			src = impliedSource(local)
		}
		return []*ast.Term{str(local), str(src)}
	}
	addData := func(b *rawBlock, check string) {
		if len(b.labels) != 2 {
			return
		}
		addr := "data." + b.labels[0] + "." + b.labels[1]
		pr := providerOf(b, b.labels[0])
		insts := ev.instancesTerm(b, resourceMeta, b.labels[0], b.labels[1], addr, module)
		addInstances(&p.dataInstancesByType, b.labels[0], insts)
		extra := [][2]*ast.Term{item("provider", pr[0]), item("provider_source", pr[1]), item("instances", insts)}
		if check != "" {
			extra = append(extra, item("check", str(check)))
		}
		p.add(addr, b)
		t := p.blockTerm(b, b.labels[0], b.labels[1], addr, extra...)
		p.data = append(p.data, t)
		p.dataByType.add(b.labels[0], t)
	}
	for _, f := range files {
		for _, b := range f.blocks {
			switch b.typ {
			case "resource":
				if len(b.labels) != 2 {
					continue
				}
				addr := b.labels[0] + "." + b.labels[1]
				pr := providerOf(b, b.labels[0])
				p.add(addr, b)
				insts := ev.instancesTerm(b, resourceMeta, b.labels[0], b.labels[1], addr, module)
				addInstances(&p.instancesByType, b.labels[0], insts)
				t := p.blockTerm(b, b.labels[0], b.labels[1], addr, item("provider", pr[0]), item("provider_source", pr[1]),
					item("instances", insts))
				p.resources = append(p.resources, t)
				p.resourcesByType.add(b.labels[0], t)
			case "data":
				addData(b, "")
			case "check":
				for _, nb := range b.blocks {
					if nb.typ == "data" && len(b.labels) == 1 {
						addData(nb, b.labels[0])
					}
				}
			case "module":
				if len(b.labels) == 1 {
					p.modules = append(p.modules, p.moduleTerm(b, ev.instancesTerm(b, moduleMeta, "module", b.labels[0], "module."+b.labels[0], module)))
				}
			case "provider":
				if len(b.labels) != 1 {
					continue
				}
				addr := "provider." + b.labels[0]
				alias := b.staticString("alias")
				if alias != "" {
					addr += "." + alias
				}
				src, ok := reqProviders[b.labels[0]]
				if !ok {
					src = impliedSource(b.labels[0])
				}
				p.add(addr, b)
				p.providers = append(p.providers, p.blockTerm(b, "provider", b.labels[0], addr,
					item("alias", str(alias)), item("provider_source", str(src)), item("instances", ev.instancesTerm(b, providerMeta, "provider", b.labels[0], addr, module))))
			case "variable", "output":
				if len(b.labels) != 1 {
					continue
				}
				prefix := "var."
				if b.typ == "output" {
					prefix = "output."
				}
				p.add(prefix+b.labels[0], b)
				t := p.blockTerm(b, b.typ, b.labels[0], prefix+b.labels[0])
				if b.typ == "output" {
					p.outputs = append(p.outputs, t)
				} else {
					p.variables = append(p.variables, t)
				}
			case "locals":
				p.locals = append(p.locals, p.blockTerm(b, "locals", "", "locals"))
				for _, a := range b.attrs {
					p.add("local."+a.name, b)
				}
			}
		}
	}
	return p
}

func addInstances(x *typeIndex, typ string, insts *ast.Term) {
	if a, ok := insts.Value.(*ast.Array); ok {
		for i := range a.Len() {
			x.add(typ, a.Elem(i))
		}
	}
}

func (p *modulePart) add(addr string, b *rawBlock) { p.index[addr] = append(p.index[addr], b) }

func (p *modulePart) moduleTerm(b *rawBlock, instances *ast.Term) *ast.Term {
	name := b.labels[0]
	addr := "module." + name
	p.add(addr, b)
	source, version := b.staticString("source"), b.staticString("version")
	local := strings.HasPrefix(source, "./") || strings.HasPrefix(source, "../")
	dir := ""
	if local {
		// Resolve against the calling file's directory, which is the
		// module's own dir for module files.
		dir = path.Join(path.Dir(b.file), source)
		p.calls[name] = dir
	}
	item := p.kit.item
	return p.blockTerm(b, "module", name, addr,
		item("source", str(source)), item("version", str(version)),
		item("local", ast.InternedTerm(local)), item("dir", str(dir)), item("instances", instances))
}

// blockTerm is the input form of a top-level block.
func (p *modulePart) blockTerm(b *rawBlock, typ, name, addr string, extra ...[2]*ast.Term) *ast.Term {
	item := p.kit.item
	items := append(make([][2]*ast.Term, 0, 8+len(extra)),
		item("type", str(typ)), item("name", str(name)), item("address", str(addr)),
		item("file", str(b.file)), item("module", str(p.module)),
		item("range", b.rangeTerm),
		item("attributes", b.attrsTerm), item("blocks", b.blocksTerm),
	)
	return ast.ObjectTerm(append(items, extra...)...)
}

// subInput is the input document of this module alone, as module-scope
// packages see it. input.project names the part's own dir; the engine only
// shares parts between projects for packages that never read it.
func (p *modulePart) subInput() ast.Value {
	p.subOnce.Do(func() { p.sub = inputDocument(projectTerm(p.dir), []*modulePart{p}) })
	return p.sub
}

// inputDocument assembles the HCL-stage input from module parts in order,
// the project's own part first. See policies/README.md.
func inputDocument(project *ast.Term, parts []*modulePart) ast.Value {
	// Arrays share the parts' slices, clipped so that nothing appended to
	// one can write into them.
	cat := func(get func(*modulePart) []*ast.Term) *ast.Term {
		if len(parts) == 1 {
			return ast.ArrayTerm(slices.Clip(get(parts[0]))...)
		}
		var out []*ast.Term
		for _, p := range parts {
			out = append(out, get(p)...)
		}
		return ast.ArrayTerm(out...)
	}
	requiredVersion, backend, cloud := ast.NullTerm(), ast.NullTerm(), ast.NullTerm()
	byType, dataByType := make([]*typeIndex, len(parts)), make([]*typeIndex, len(parts))
	instByType, dataInstByType := make([]*typeIndex, len(parts)), make([]*typeIndex, len(parts))
	for i, p := range parts {
		// As terraform reads them: the last required_version, the first
		// backend and cloud block.
		if p.requiredVersion != nil {
			requiredVersion = p.requiredVersion
		}
		if p.backend != nil && backend.Value.Compare(ast.Null{}) == 0 {
			backend = p.backend
		}
		if p.cloud != nil && cloud.Value.Compare(ast.Null{}) == 0 {
			cloud = p.cloud
		}
		byType[i], dataByType[i] = &p.resourcesByType, &p.dataByType
		instByType[i], dataInstByType[i] = &p.instancesByType, &p.dataInstancesByType
	}
	return ast.NewObject(
		item("project", project),
		item("resources", cat(func(p *modulePart) []*ast.Term { return p.resources })),
		item("resources_by_type", typeIndexTerm(byType...)),
		item("data", cat(func(p *modulePart) []*ast.Term { return p.data })),
		item("data_by_type", typeIndexTerm(dataByType...)),
		item("resource_instances", typeIndexTerm(instByType...)),
		item("data_instances", typeIndexTerm(dataInstByType...)),
		item("modules", cat(func(p *modulePart) []*ast.Term { return p.modules })),
		item("providers", cat(func(p *modulePart) []*ast.Term { return p.providers })),
		item("backend", backend),
		item("terraform", ast.ObjectTerm(
			item("required_version", requiredVersion),
			item("required_providers", cat(func(p *modulePart) []*ast.Term { return p.reqProviders })),
			item("cloud", cloud),
			item("blocks", cat(func(p *modulePart) []*ast.Term { return p.tfBlocks })),
		)),
		item("variables", cat(func(p *modulePart) []*ast.Term { return p.variables })),
		item("outputs", cat(func(p *modulePart) []*ast.Term { return p.outputs })),
		item("locals", cat(func(p *modulePart) []*ast.Term { return p.locals })),
	)
}

// config is a project as linted: its own part and its modules' parts, in
// order, with the problems found reading them.
type config struct {
	dir      string
	parts    []*modulePart
	files    []*sourceFile
	findings []Finding // read and parse problems
}

func newConfig(dir string, parts []*modulePart, findings []Finding) *config {
	c := &config{dir: dir, parts: parts, findings: findings}
	for _, p := range parts {
		c.files = append(c.files, p.files...)
	}
	return c
}

// input is the whole project's input document.
func (c *config) input() ast.Value { return inputDocument(projectTerm(c.dir), c.parts) }

// calls returns the local module calls of module by name.
func (c *config) calls(module string) map[string]string {
	var out map[string]string
	for _, p := range c.parts {
		if p.module != module {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		for name, dir := range p.calls {
			out[name] = dir
		}
	}
	return out
}

// requiredProvider reads one required_providers entry.
func requiredProvider(a *rawAttr) (source, version string) {
	source = impliedSource(a.name)
	if a.value == nil {
		return source, ""
	}
	switch v := a.value.Value.(type) {
	case ast.Object:
		if s, ok := termString(v.Get(ast.InternedTerm("source"))); ok {
			source = normalizeSource(s)
		}
		if s, ok := termString(v.Get(ast.InternedTerm("version"))); ok {
			version = s
		}
	case ast.String:
		// Terraform 0.12 style: google = "~> 4.0" is a version constraint.
		version = string(v)
	}
	return source, version
}

func termString(t *ast.Term) (string, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}

// impliedSource is the provider terraform picks for a local name that has
// no required_providers entry.
func impliedSource(local string) string {
	if local == "terraform" {
		return "terraform.io/builtin/terraform"
	}
	return "hashicorp/" + strings.ToLower(local)
}

// normalizeSource drops the default registry host so policies compare one
// spelling: registry.terraform.io/hashicorp/google -> hashicorp/google.
func normalizeSource(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "registry.terraform.io/")
	if !strings.Contains(s, "/") && s != "" {
		s = "hashicorp/" + s
	}
	return s
}
