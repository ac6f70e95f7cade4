// Package policy lints Terraform configurations and plans against Rego
// policies. HCL is parsed with hcl/v2 so every finding points at the exact
// file and line of the block or attribute that caused it.
//
// Two stages exist. The HCL stage runs before any terraform command: a deny
// there means terraform never runs for the project, because configurations
// such as data "external" execute programs during plan. The plan stage runs
// on `terraform show -json` output.
package policy

import (
	"maps"
	"time"
)

// Severity of a finding. Only unsuppressed deny findings block a project.
type Severity string

const (
	SeverityDeny Severity = "deny"
	SeverityWarn Severity = "warn"
)

// Rule ids produced by tfpr itself rather than by a policy.
const (
	// RuleParse marks HCL that terraform would refuse, or a file tfpr skipped.
	RuleParse = "parse"
	// RulePolicyError marks a policy that failed or timed out; it is a deny
	// so that a broken policy never turns into a silent pass.
	RulePolicyError = "policy-error"
	// RuleSuppression marks a tfpr:ignore comment that does not count.
	RuleSuppression = "suppression"
	// RuleLintTimeout marks a project whose lint did not finish in time; it
	// is a deny so that hostile input cannot turn into a silent pass.
	RuleLintTimeout = "lint-timeout"
)

// Stage names, also the second element of policy package paths
// (tfpr.hcl.*, tfpr.plan.*).
const (
	StageHCL  = "hcl"
	StagePlan = "plan"
)

// Finding is one policy result located in the repository.
type Finding struct {
	// Rule is the policy's METADATA custom.id, e.g. "TFPR001", or one of
	// RuleParse, RulePolicyError, RuleSuppression.
	Rule     string   `json:"rule"`
	Title    string   `json:"title,omitempty"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// File is a repo-relative slash path. When a finding has no better place
	// it is the project directory and Line is 0.
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	EndLine int    `json:"end_line,omitempty"`
	// Address is the Terraform address, e.g. data.external.x or module.m.
	Address string `json:"address,omitempty"`
	// Attribute is the attribute path within the block when known.
	Attribute      string `json:"attribute,omitempty"`
	Suppressed     bool   `json:"suppressed,omitempty"`
	SuppressReason string `json:"suppress_reason,omitempty"`
}

// Blocking reports whether any finding is an unsuppressed deny.
func Blocking(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityDeny && !f.Suppressed {
			return true
		}
	}
	return false
}

// Options configure an Engine.
type Options struct {
	// Timeout bounds one evaluation of one stage's policies: on a project,
	// or for module-scope policies on one module. 0 means DefaultTimeout.
	Timeout time.Duration
	// Params are exposed to policies as data.tfpr.params. Keys override
	// DefaultParams one by one.
	Params map[string]any
	// NoCache keeps nothing between calls. It suits an Engine that lints
	// one checkout and is dropped, as tfpr lint does: a Tree already reads
	// and evaluates each directory once, and caches kept for later calls
	// would only hold on to memory.
	NoCache bool
	// LintTimeout bounds the lint of one project, reading and parsing
	// included; a project that takes longer gets a deny finding. 0 means
	// DefaultLintTimeout.
	LintTimeout time.Duration
}

// DefaultTimeout is used when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// DefaultLintTimeout is used when Options.LintTimeout is zero.
const DefaultLintTimeout = 2 * time.Minute

// RuleInfo describes one policy package, for documentation and help output.
type RuleInfo struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Severity    Severity `json:"severity"`
	Stage       string   `json:"stage"`
	// Stages lists every stage the rule runs at when that is more than
	// its own (METADATA custom.stages).
	Stages  []string `json:"stages,omitempty"`
	Package string   `json:"package"`
	File    string   `json:"file"`
}

// DefaultParams returns the parameters the default policies expect under
// data.tfpr.params. A fresh map is returned on every call.
func DefaultParams() map[string]any {
	return map[string]any{
		"allowed_providers": []any{
			"hashicorp/google",
			"hashicorp/google-beta",
			"hashicorp/random",
			"hashicorp/null",
			"hashicorp/time",
			"terraform.io/builtin/terraform",
		},
		"allowed_module_namespaces": []any{"acme"},
		"project_pattern":           "{service}-{env}",
		"max_destroy":               20,
		// Deny rules a `# tfpr:ignore` comment in the PR's own code may
		// suppress. Empty by default: otherwise the author under review
		// could switch off any denial. Warnings are always suppressible.
		"suppressible_rules": []any{},
		// Credential-minting data sources (google_client_config,
		// google_service_account_access_token, ...) and provisioners
		// (local-exec, remote-exec, file) the engine lets through by name.
		// Empty by default: each hands a PR tfpr's identity or host.
		"allowed_data_sources": []any{},
		"allowed_provisioners": []any{},
		// Provider-defined functions (provider::NAME::FUNC) a configuration
		// may call. Empty by default: they run provider code during plan.
		"allowed_provider_functions": []any{},
	}
}

// suppressible reads params.suppressible_rules.
func suppressible(params map[string]any) []string { return stringList(params, "suppressible_rules") }

// stringList reads a list of strings from params.
func stringList(params map[string]any, key string) []string {
	var out []string
	if list, ok := params[key].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	if list, ok := params[key].([]string); ok {
		out = append(out, list...)
	}
	return out
}

func mergeParams(override map[string]any) map[string]any {
	p := DefaultParams()
	maps.Copy(p, override)
	return p
}
