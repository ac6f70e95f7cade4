package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/zclconf/go-cty/cty"
)

// Engine-level denials about whose identity terraform acts with and what it
// executes. tfpr's own identity can mint a token for every team's service
// account and runs next to the App key and the store, so a configuration
// that picks credentials, hands out tokens or runs a program would let one
// team act as another, or as tfpr itself. Like unsafe-path and file-read
// these are not Rego rules: no policy directory can drop them, no
// tfpr:ignore comment or `tfpr approve` lifts them; only the operator's
// params allow a data source or provisioner by name.
const (
	// RuleCredentialConfig marks a provider or terraform_remote_state
	// setting that picks credentials or an endpoint.
	RuleCredentialConfig = "credential-config"
	// RuleCredentialDataSource marks a data source (or ephemeral resource)
	// that mints or reads a token or key.
	RuleCredentialDataSource = "credential-data-source"
	// RuleProvisioner marks a provisioner, which runs a command at apply.
	RuleProvisioner = "provisioner"
	// RuleStateBackend marks a backend or cloud block other than the one
	// empty backend "gcs" {} tfpr configures at init.
	RuleStateBackend = "state-backend"
	// RuleStateEncryption marks an OpenTofu encryption method or key
	// provider that runs a program.
	RuleStateEncryption = "state-encryption"
)

// credentialDataSources hand the caller a token, JWT or key of some
// service account, or (google_client_config) the access token terraform
// itself runs with.
var credentialDataSources = map[string]bool{
	"google_service_account_access_token": true,
	"google_service_account_id_token":     true,
	"google_service_account_jwt":          true,
	"google_service_account_key":          true,
	"google_client_config":                true,
}

// allowedBackends is an allowlist, not a denylist: the backend decides
// where state (with every secret in it) is written and with which
// credentials, and any setting can change that (bucket, prefix,
// credentials, access_token, impersonate_service_account,
// storage_custom_endpoint, encryption_key, kms_encryption_key, ...).
// tfpr passes bucket and prefix at init, so the one backend a project
// declares is gcs with no settings at all.
var allowedBackends = map[string][]string{"gcs": nil}

// remoteStateSettings is the allowlist of terraform_remote_state config
// keys, for the same reason: only where to read, never with what.
var remoteStateSettings = []string{"bucket", "prefix"}

// credentialWords recognise provider settings that pick an identity or
// where requests go. Providers are a denylist by name pattern rather than
// an allowlist: the google provider alone has dozens of harmless settings
// (project, region, zone, default_labels, batching, request_timeout, ...)
// that grow with each release, so an allowlist would break working code on
// every provider upgrade, while the dangerous ones follow a few names:
// credentials, access_token, external_credentials,
// impersonate_service_account(_delegates), every *_custom_endpoint and
// universe_domain.
var credentialWords = []string{"credential", "token", "impersonat", "endpoint", "universe_domain"}

func credentialSetting(name string) bool {
	name = strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// builtinPolicy holds what the operator allows of the engine's denials.
type builtinPolicy struct {
	allowedDataSources  []string
	allowedProvisioners []string
}

// newBuiltin reads params.allowed_data_sources and
// params.allowed_provisioners. A malformed list is an error: a typo must
// not silently allow or deny something else.
func newBuiltin(params map[string]any) (builtinPolicy, error) {
	var bp builtinPolicy
	var err error
	if bp.allowedDataSources, err = stringsParam(params, "allowed_data_sources"); err != nil {
		return bp, err
	}
	if bp.allowedProvisioners, err = stringsParam(params, "allowed_provisioners"); err != nil {
		return bp, err
	}
	return bp, nil
}

func stringsParam(params map[string]any, key string) ([]string, error) {
	switch v := params[key].(type) {
	case nil:
		return nil, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("policy params: %s must be a list of strings, got element %v (%T)", key, x, x)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("policy params: %s must be a list of strings, got %T", key, v)
	}
}

// check walks every block of the project and its local modules.
func (bp builtinPolicy) check(c *config) []Finding {
	var out []Finding
	deny := func(rule, title, file string, line int, format string, args ...any) {
		out = append(out, Finding{Rule: rule, Title: title, Severity: SeverityDeny, File: file, Line: line, EndLine: line,
			Message: fmt.Sprintf(format, args...)})
	}
	var stateBlocks []*rawBlock // backend and cloud blocks of the project itself
	for _, p := range c.parts {
		for _, f := range p.files {
			for _, b := range f.blocks {
				switch b.typ {
				case "provider":
					bp.provider(b, deny)
				case "data", "ephemeral":
					bp.dataSource(b, deny)
				case "check":
					for _, nb := range b.blocks {
						if nb.typ == "data" {
							bp.dataSource(nb, deny)
						}
					}
				case "resource", "removed":
					bp.provisioners(b, deny)
				case "terraform":
					for _, nb := range b.blocks {
						switch nb.typ {
						case "backend", "cloud":
							// Terraform ignores these in called modules.
							if p.module == "" {
								stateBlocks = append(stateBlocks, nb)
							}
						case "encryption":
							encryption(nb, deny)
						}
					}
					if a := b.attr("encryption"); a != nil {
						encryptionExpr(b, a, deny)
					}
				}
			}
		}
	}
	stateBackends(stateBlocks, deny)
	return out
}

type denyFunc func(rule, title, file string, line int, format string, args ...any)

const (
	titleCredentialConfig = "setting picks credentials or an endpoint"
	titleCredentialData   = "data source mints credentials"
	titleProvisioner      = "provisioner runs a command at apply"
	titleStateBackend     = "state backend set by the repository"
	titleStateEncryption  = "state encryption runs a program"
)

func (bp builtinPolicy) provider(b *rawBlock, deny denyFunc) {
	name := "provider"
	if len(b.labels) > 0 {
		name = fmt.Sprintf("provider %q", b.labels[0])
	}
	for _, a := range b.attrs {
		if credentialSetting(a.name) {
			deny(RuleCredentialConfig, titleCredentialConfig, b.file, a.start,
				"%s sets %s, which picks the credentials or endpoint terraform uses; tfpr runs each project as its own service account: remove %s", name, a.name, a.name)
		}
	}
	for _, nb := range b.blocks {
		setting := nb.typ
		if nb.typ == "dynamic" && len(nb.labels) > 0 {
			setting = nb.labels[0]
		}
		if credentialSetting(setting) {
			deny(RuleCredentialConfig, titleCredentialConfig, b.file, nb.start,
				"%s sets %s, which picks the credentials or endpoint terraform uses; tfpr runs each project as its own service account: remove the %s block", name, setting, setting)
		}
	}
}

func (bp builtinPolicy) dataSource(b *rawBlock, deny denyFunc) {
	if len(b.labels) != 2 {
		return
	}
	typ, addr := b.labels[0], b.typ+"."+b.labels[0]+"."+b.labels[1]
	if b.typ == "data" && typ == "terraform_remote_state" {
		remoteState(b, addr, deny)
		return
	}
	if credentialDataSources[typ] && !slices.Contains(bp.allowedDataSources, typ) {
		deny(RuleCredentialDataSource, titleCredentialData, b.file, b.start,
			"%s hands this configuration a token or key of a service account, which tfpr's identity can mint for any team; tfpr runs each project as its own service account, so remove it (an operator can allow %s by name in the allowed_data_sources policy param)", addr, typ)
	}
}

// remoteState lets terraform_remote_state say where to read (a gcs bucket
// and prefix), never with which credentials or through which endpoint.
func remoteState(b *rawBlock, addr string, deny denyFunc) {
	if a := b.attr("backend"); a != nil {
		if s, ok := staticString(a); !ok || s != "gcs" {
			deny(RuleCredentialConfig, titleCredentialConfig, b.file, a.start,
				"%s: backend must be the literal \"gcs\"; other backends can read host files or use other credentials", addr)
		}
	}
	a := b.attr("config")
	if a == nil {
		return
	}
	keys, ok := objectKeys(b, a)
	if !ok {
		deny(RuleCredentialConfig, titleCredentialConfig, b.file, a.start,
			"%s: write config as an object literal with literal keys (only %s) so tfpr can check it", addr, strings.Join(remoteStateSettings, " and "))
		return
	}
	for _, k := range keys {
		if !k.known {
			deny(RuleCredentialConfig, titleCredentialConfig, b.file, k.line,
				"%s: config keys must be literal (only %s)", addr, strings.Join(remoteStateSettings, " and "))
			continue
		}
		if !slices.Contains(remoteStateSettings, k.name) {
			deny(RuleCredentialConfig, titleCredentialConfig, b.file, k.line,
				"%s sets config.%s; tfpr runs each project as its own service account and reads state with it: remove %s (only %s may be set)", addr, k.name, k.name, strings.Join(remoteStateSettings, " and "))
		}
	}
}

func (bp builtinPolicy) provisioners(b *rawBlock, deny denyFunc) {
	check := func(typ string, line int) {
		if slices.Contains(bp.allowedProvisioners, typ) {
			return
		}
		deny(RuleProvisioner, titleProvisioner, b.file, line,
			"provisioner %q runs at apply as tfpr's own user, next to its keys; manage the change with a resource or a reviewed module instead (an operator can allow %s by name in the allowed_provisioners policy param)", typ, typ)
	}
	for _, nb := range b.blocks {
		switch {
		case nb.typ == "provisioner" && len(nb.labels) > 0:
			check(nb.labels[0], nb.start)
		case nb.typ == "provisioner":
			// JSON written as "provisioner": [{"local-exec": {...}}] where
			// the schema does not name it (removed blocks): each key is a
			// provisioner type.
			for _, a := range nb.attrs {
				check(a.name, a.start)
			}
			for _, nnb := range nb.blocks {
				check(nnb.typ, nnb.start)
			}
		}
	}
	if a := b.attr("provisioner"); a != nil {
		keys, ok := objectKeys(b, a)
		if !ok {
			check("(not literal)", a.start)
		}
		for _, k := range keys {
			check(k.name, k.line)
		}
	}
}

// stateBackends allows one backend "gcs" {} and nothing else: input.go
// (and so every policy) sees only the first backend, while override files
// decide which one terraform uses.
func stateBackends(blocks []*rawBlock, deny denyFunc) {
	for i, b := range blocks {
		typ := ""
		if len(b.labels) == 1 && b.typ == "backend" {
			typ = b.labels[0]
		}
		allowed, ok := allowedBackends[typ]
		switch {
		case i > 0:
			first := blocks[0]
			deny(RuleStateBackend, titleStateBackend, b.file, b.start,
				"another %s block (the first backend or cloud block is at %s:%d); a project declares exactly one backend \"gcs\" {}: remove this one", b.typ, first.file, first.start)
		case b.typ == "cloud":
			deny(RuleStateBackend, titleStateBackend, b.file, b.start,
				"terraform { cloud {} } sends state and runs elsewhere; declare backend \"gcs\" {} and let tfpr configure it")
		case !ok:
			deny(RuleStateBackend, titleStateBackend, b.file, b.start,
				"backend %q is not allowed; declare backend \"gcs\" {} and let tfpr configure it", strings.Join(b.labels, " "))
		}
		if !ok {
			continue
		}
		for _, a := range b.attrs {
			if !slices.Contains(allowed, a.name) {
				deny(RuleStateBackend, titleStateBackend, b.file, a.start,
					"backend %q sets %s; tfpr sets bucket and prefix at init and runs each project as its own service account: remove %s", typ, a.name, a.name)
			}
		}
		for _, nb := range b.blocks {
			deny(RuleStateBackend, titleStateBackend, b.file, nb.start,
				"backend %q must be empty: remove the %s block", typ, nb.typ)
		}
	}
}

// encryption walks an OpenTofu encryption block: a method or key provider
// of type external runs the program it names. A dynamic block there cannot
// be judged before it is expanded.
func encryption(b *rawBlock, deny denyFunc) {
	for _, nb := range b.blocks {
		switch {
		case nb.typ == "dynamic":
			deny(RuleStateEncryption, titleStateEncryption, nb.file, nb.start,
				"dynamic blocks in terraform { encryption } cannot be checked before plan; write each method and key_provider out")
			continue
		case (nb.typ == "method" || nb.typ == "key_provider") && len(nb.labels) > 0:
			if nb.labels[0] == "external" {
				denyExternal(deny, nb.file, nb.start, nb.typ)
			}
		case nb.typ == "method" || nb.typ == "key_provider":
			// JSON array form: the keys are the types.
			for _, a := range nb.attrs {
				if a.name == "external" {
					denyExternal(deny, nb.file, a.start, nb.typ)
				}
			}
			for _, nnb := range nb.blocks {
				if nnb.typ == "external" {
					denyExternal(deny, nb.file, nnb.start, nb.typ)
				}
			}
		}
		encryption(nb, deny)
	}
	for _, a := range b.attrs {
		encryptionExpr(b, a, deny)
	}
}

func denyExternal(deny denyFunc, file string, line int, kind string) {
	deny(RuleStateEncryption, titleStateEncryption, file, line,
		"%s \"external\" runs a program on the tfpr host; use a built-in method (aes_gcm) with a built-in key provider (gcp_kms, pbkdf2)", kind)
}

// encryptionExpr finds external methods and key providers in the
// object-valued attributes JSON syntax turns encryption settings into.
func encryptionExpr(b *rawBlock, a *rawAttr, deny denyFunc) {
	e, ok := attrExpr(b, a)
	if !ok {
		return
	}
	var walk func(e hcl.Expression, parent string)
	walk = func(e hcl.Expression, parent string) {
		if items, diags := hcl.ExprList(e); !diags.HasErrors() {
			for _, x := range items {
				walk(x, parent)
			}
			return
		}
		pairs, diags := hcl.ExprMap(e)
		if diags.HasErrors() {
			return
		}
		for _, p := range pairs {
			k := keyOf(p.Key)
			under := parent == "method" || parent == "key_provider"
			switch {
			case under && !k.known:
				deny(RuleStateEncryption, titleStateEncryption, b.file, k.line,
					"%s types in terraform { encryption } must be literal so tfpr can check them", parent)
			case under && k.name == "external":
				denyExternal(deny, b.file, k.line, parent)
			}
			walk(p.Value, k.name)
		}
	}
	walk(e, a.name)
}

// objKey is one key of an object expression.
type objKey struct {
	name  string
	line  int
	known bool
}

// objectKeys lists the keys of an attribute's object expression, whatever
// its values are (they may reference variables); ok is false when the
// expression is not an object.
func objectKeys(b *rawBlock, a *rawAttr) ([]objKey, bool) {
	e, ok := attrExpr(b, a)
	if !ok {
		return nil, false
	}
	pairs, diags := hcl.ExprMap(e)
	if diags.HasErrors() {
		return nil, false
	}
	keys := make([]objKey, len(pairs))
	for i, p := range pairs {
		keys[i] = keyOf(p.Key)
	}
	return keys, true
}

func keyOf(e hcl.Expression) objKey {
	k := objKey{line: e.Range().Start.Line}
	if kw := hcl.ExprAsKeyword(e); kw != "" {
		k.name, k.known = kw, true
		return k
	}
	v, diags := e.Value(nil)
	if !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type().Equals(cty.String) {
		k.name, k.known = v.AsString(), true
	}
	return k
}

// attrExpr parses an attribute's expression again from the source text the
// input keeps, in the syntax of its file, positioned at the attribute's line.
func attrExpr(b *rawBlock, a *rawAttr) (hcl.Expression, bool) {
	if a.term == nil {
		return nil, false
	}
	obj, ok := a.term.Value.(ast.Object)
	if !ok {
		return nil, false
	}
	text, ok := termString(obj.Get(ast.InternedTerm("expr")))
	if !ok {
		return nil, false
	}
	start := hcl.Pos{Line: a.start, Column: 1}
	var e hcl.Expression
	var diags hcl.Diagnostics
	if strings.HasSuffix(b.file, ".json") {
		e, diags = hcljson.ParseExpressionWithStartPos([]byte(text), b.file, start)
	} else {
		e, diags = hclsyntax.ParseExpression([]byte(text), b.file, start)
	}
	if diags.HasErrors() || e == nil {
		return nil, false
	}
	return e, true
}

func staticString(a *rawAttr) (string, bool) {
	if a.value == nil {
		return "", false
	}
	s, ok := a.value.Value.(ast.String)
	return string(s), ok
}
