package policy

import (
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// config is a parsed project: its files, the Rego input built from them and
// an address index used to place findings.
type config struct {
	dir      string
	files    []*sourceFile
	findings []Finding // parse problems
	index    map[string][]*rawBlock
	// calls maps a module dir ("" for the project) to its local module calls
	// by name, so plan addresses like module.a.x.y resolve to HCL.
	calls map[string]map[string]string
	input ast.Value
}

// projectTerm returns input.project; service and env come from the
// microservices/<service>/<env> layout when the dir follows it.
func projectTerm(dir string) *ast.Term {
	service, env := "", ""
	parts := strings.Split(dir, "/")
	if n := len(parts); n >= 3 && parts[n-3] == "microservices" {
		service, env = parts[n-2], parts[n-1]
	}
	return ast.ObjectTerm(item("dir", str(dir)), item("service", str(service)), item("env", str(env)))
}

func (b *rawBlock) staticString(name string) string {
	if a := b.attr(name); a != nil && a.hasValue {
		s, _ := a.value.(string)
		return s
	}
	return ""
}

// newConfig builds the input document and address index from parsed files.
func newConfig(dir string, files []*sourceFile) *config {
	c := &config{
		dir: dir, files: files,
		index: map[string][]*rawBlock{},
		calls: map[string]map[string]string{},
	}
	// Provider sources are needed to resolve resources, so collect them first.
	reqProviders := map[string]map[string]string{} // module -> local name -> source
	var tfBlocks, reqTerms []*ast.Term
	requiredVersion, backend, cloud := ast.NullTerm(), ast.NullTerm(), ast.NullTerm()
	for _, f := range files {
		for _, b := range f.blocks {
			if b.typ != "terraform" {
				continue
			}
			tfBlocks = append(tfBlocks, b.nestedTerm)
			if a := b.attr("required_version"); a != nil && a.hasValue && b.module == "" {
				requiredVersion = a.term.Get(str("value"))
			}
			for _, nb := range b.blocks {
				switch nb.typ {
				case "required_providers":
					c.add("terraform.required_providers", nb)
					for _, a := range nb.attrs {
						source, version := requiredProvider(a)
						if reqProviders[b.module] == nil {
							reqProviders[b.module] = map[string]string{}
						}
						reqProviders[b.module][a.name] = source
						reqTerms = append(reqTerms, ast.ObjectTerm(
							item("name", str(a.name)), item("source", str(source)), item("version", str(version)),
							item("file", str(nb.file)), item("module", str(nb.module)), item("range", rangeTerm(a.start, a.end)),
						))
					}
				case "backend":
					if b.module == "" && backend.Value.Compare(ast.Null{}) == 0 && len(nb.labels) == 1 {
						c.add("terraform.backend", nb)
						backend = blockTerm(nb, nb.labels[0], nb.labels[0], "terraform.backend")
					}
				case "cloud":
					if b.module == "" && cloud.Value.Compare(ast.Null{}) == 0 {
						c.add("terraform.cloud", nb)
						cloud = blockTerm(nb, "cloud", "", "terraform.cloud")
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
		src, ok := reqProviders[b.module][local]
		if !ok {
			src = impliedSource(local)
		}
		return []*ast.Term{str(local), str(src)}
	}
	var resources, data, modules, providers, variables, outputs, locals []*ast.Term
	addData := func(b *rawBlock, check string) {
		if len(b.labels) != 2 {
			return
		}
		addr := "data." + b.labels[0] + "." + b.labels[1]
		p := providerOf(b, b.labels[0])
		extra := [][2]*ast.Term{item("provider", p[0]), item("provider_source", p[1])}
		if check != "" {
			extra = append(extra, item("check", str(check)))
		}
		c.add(addr, b)
		data = append(data, blockTerm(b, b.labels[0], b.labels[1], addr, extra...))
	}
	for _, f := range files {
		for _, b := range f.blocks {
			switch b.typ {
			case "resource":
				if len(b.labels) != 2 {
					continue
				}
				addr := b.labels[0] + "." + b.labels[1]
				p := providerOf(b, b.labels[0])
				c.add(addr, b)
				resources = append(resources, blockTerm(b, b.labels[0], b.labels[1], addr,
					item("provider", p[0]), item("provider_source", p[1])))
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
					modules = append(modules, c.moduleTerm(b))
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
				src, ok := reqProviders[b.module][b.labels[0]]
				if !ok {
					src = impliedSource(b.labels[0])
				}
				c.add(addr, b)
				providers = append(providers, blockTerm(b, "provider", b.labels[0], addr,
					item("alias", str(alias)), item("provider_source", str(src))))
			case "variable", "output":
				if len(b.labels) != 1 {
					continue
				}
				prefix := "var."
				if b.typ == "output" {
					prefix = "output."
				}
				c.add(prefix+b.labels[0], b)
				t := blockTerm(b, b.typ, b.labels[0], prefix+b.labels[0])
				if b.typ == "output" {
					outputs = append(outputs, t)
				} else {
					variables = append(variables, t)
				}
			case "locals":
				locals = append(locals, blockTerm(b, "locals", "", "locals"))
				for _, a := range b.attrs {
					c.add("local."+a.name, b)
				}
			}
		}
	}
	c.input = ast.NewObject(
		item("project", projectTerm(dir)),
		item("resources", ast.ArrayTerm(resources...)),
		item("data", ast.ArrayTerm(data...)),
		item("modules", ast.ArrayTerm(modules...)),
		item("providers", ast.ArrayTerm(providers...)),
		item("backend", backend),
		item("terraform", ast.ObjectTerm(
			item("required_version", requiredVersion),
			item("required_providers", ast.ArrayTerm(reqTerms...)),
			item("cloud", cloud),
			item("blocks", ast.ArrayTerm(tfBlocks...)),
		)),
		item("variables", ast.ArrayTerm(variables...)),
		item("outputs", ast.ArrayTerm(outputs...)),
		item("locals", ast.ArrayTerm(locals...)),
	)
	return c
}

func (c *config) add(addr string, b *rawBlock) { c.index[addr] = append(c.index[addr], b) }

func (c *config) moduleTerm(b *rawBlock) *ast.Term {
	name := b.labels[0]
	addr := "module." + name
	c.add(addr, b)
	source, version := b.staticString("source"), b.staticString("version")
	local := strings.HasPrefix(source, "./") || strings.HasPrefix(source, "../")
	dir := ""
	if local {
		// Resolve against the calling file's directory, which is the
		// module's own dir for module files.
		dir = path.Join(path.Dir(b.file), source)
		if c.calls[b.module] == nil {
			c.calls[b.module] = map[string]string{}
		}
		c.calls[b.module][name] = dir
	}
	return blockTerm(b, "module", name, addr,
		item("source", str(source)), item("version", str(version)),
		item("local", ast.BooleanTerm(local)), item("dir", str(dir)))
}

// requiredProvider reads one required_providers entry.
func requiredProvider(a *rawAttr) (source, version string) {
	source = impliedSource(a.name)
	switch v := a.value.(type) {
	case map[string]any:
		if s, ok := v["source"].(string); ok {
			source = normalizeSource(s)
		}
		if s, ok := v["version"].(string); ok {
			version = s
		}
	case string:
		// Terraform 0.12 style: google = "~> 4.0" is a version constraint.
		version = v
	}
	return source, version
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

// blockTerm is the input form of a top-level block.
func blockTerm(b *rawBlock, typ, name, addr string, extra ...[2]*ast.Term) *ast.Term {
	items := append([][2]*ast.Term{
		item("type", str(typ)), item("name", str(name)), item("address", str(addr)),
		item("file", str(b.file)), item("module", str(b.module)),
		item("range", rangeTerm(b.start, b.end)),
		item("attributes", b.attrsTerm), item("blocks", b.blocksTerm),
	}, extra...)
	return ast.ObjectTerm(items...)
}
