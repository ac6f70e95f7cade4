package policy

// BuiltinRules lists the checks built into the engine, which hold whatever
// the policy directory holds (see policies/README.md), for `tfpr policy
// list` beside the directory's own rules.
func BuiltinRules() []RuleInfo {
	rule := func(id, title string) RuleInfo {
		return RuleInfo{ID: id, Title: title, Severity: SeverityDeny, Stage: "hcl", Package: "(built in)"}
	}
	return []RuleInfo{
		rule(RuleUnsafePath, "plugin dirs, CLI configs, override and OpenTofu files, symlinks terraform writes through or leaving the checkout, module sources outside it"),
		rule(RuleFileRead, "file functions read only literal paths inside the repository"),
		rule(RuleUnsafeFunction, "no nonsensitive(), templatestring() or unlisted provider-defined functions"),
		rule(RuleParse, "every file terraform would load is read and parsed"),
		rule(RuleLintTimeout, "lint finishes within TFPR_LINT_TIMEOUT"),
		rule(RuleCredentialConfig, titleCredentialConfig),
		rule(RuleCredentialDataSource, titleCredentialData),
		rule(RuleProvisioner, titleProvisioner),
		rule(RuleStateBackend, titleStateBackend),
		rule(RuleStateEncryption, titleStateEncryption),
	}
}
