package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Placeholders each template may use. A typo such as {servce} would
// otherwise stay in the text and name a state prefix or an account nobody
// meant.
var (
	statePrefixPlaceholders = []string{"{owner}", "{repo}", "{dir}"}
	identityPlaceholders    = []string{"{owner}", "{repo}", "{service}", "{env}", "{platform_project}"}
	placeholderRE           = regexp.MustCompile(`\{[^{}]*\}`)
)

// validateTemplates checks the state prefix and impersonation templates.
// Two repositories may both hold microservices/beta/prod; when tfpr can act
// on more than one repository, every template must tell them apart, or the
// second repository's project would run against the first one's state with
// the first one's service account.
func (c *Config) validateTemplates() []error {
	var errs []error
	type tmpl struct{ env, value string }
	tmpls := []tmpl{{"TFPR_STATE_PREFIX_TEMPLATE", c.StatePrefixTemplate}}
	if c.ImpersonateTemplate != "" {
		tmpls = append(tmpls, tmpl{"TFPR_IMPERSONATE_TEMPLATE", c.ImpersonateTemplate})
	}
	if c.PlanImpersonate != "" {
		tmpls = append(tmpls, tmpl{"TFPR_PLAN_IMPERSONATE_TEMPLATE", c.PlanImpersonate})
	}
	for _, t := range tmpls {
		allowed := identityPlaceholders
		if t.env == "TFPR_STATE_PREFIX_TEMPLATE" {
			allowed = statePrefixPlaceholders
			if !strings.Contains(t.value, "{dir}") {
				errs = append(errs, fmt.Errorf("%s %q has no {dir}: every project would share one state", t.env, t.value))
			}
			if strings.HasPrefix(t.value, "/") || strings.Contains(t.value, "..") {
				errs = append(errs, fmt.Errorf("%s %q must be a relative object prefix without ..", t.env, t.value))
			}
		}
		for _, p := range placeholderRE.FindAllString(t.value, -1) {
			if !slices.Contains(allowed, p) {
				errs = append(errs, fmt.Errorf("%s %q: unknown placeholder %s (known: %s)", t.env, t.value, p, strings.Join(allowed, " ")))
			}
		}
		if !c.severalRepos() {
			continue
		}
		need := []string{"{repo}"}
		if _, one := c.allowlistOwner(); !one {
			need = append(need, "{owner}")
		}
		for _, p := range need {
			if !strings.Contains(t.value, p) {
				errs = append(errs, fmt.Errorf("%s %q has no %s, but TFPR_REPO_ALLOWLIST %q can match several repositories: "+
					"the same project dir in two of them would share one %s", t.env, t.value, p, strings.Join(c.RepoAllowlist, ","), what(t.env)))
			}
		}
	}
	return errs
}

func what(env string) string {
	if env == "TFPR_STATE_PREFIX_TEMPLATE" {
		return "state"
	}
	return "service account"
}

// severalRepos reports whether the allowlist can match more than one
// repository. An empty allowlist is narrowed at start-up to the single
// installed repository (the server refuses to start otherwise).
func (c *Config) severalRepos() bool {
	if len(c.RepoAllowlist) > 1 {
		return true
	}
	return len(c.RepoAllowlist) == 1 && strings.ContainsAny(c.RepoAllowlist[0], `*?[\`)
}

// allowlistOwner returns the owner every allowlist entry names literally,
// if they all name the same one: then {repo} alone tells repositories apart.
func (c *Config) allowlistOwner() (string, bool) {
	var owner string
	for i, g := range c.RepoAllowlist {
		o, _, _ := strings.Cut(strings.ToLower(g), "/")
		if strings.ContainsAny(o, `*?[\`) || (i > 0 && o != owner) {
			return "", false
		}
		owner = o
	}
	return owner, owner != ""
}
