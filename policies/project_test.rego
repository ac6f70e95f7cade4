package tfpr.hcl.project_test

import data.tfpr.hcl.project
import data.tfpr.lib_test as t

here := {"dir": "microservices/alpha/dev", "service": "alpha", "env": "dev"}

res(values, unknown) := t.block("google_storage_bucket", values, unknown)

inp(resources) := {"project": here, "resources": resources, "providers": [], "modules": []}

test_own_project_passes if {
	count(project.deny) == 0 with input as inp([res({"project": "alpha-dev"}, {})])
}

test_other_project_denied_at_attribute if {
	results := project.deny with input as inp([res({"project": "other-prod"}, {})])
	count(results) == 1
	some r in results
	r.attribute == "project"
	contains(r.msg, "alpha-dev")
}

test_other_project_denied_at_plan if {
	p := object.union(t.plan([t.change("google_storage_bucket", {"project": "other-prod"}, {})]), {"project": here})
	some r in project.deny with input as p
	r.address == "google_storage_bucket.x"
}

test_unknown_project_passes_lint if {
	count(project.deny) == 0 with input as inp([res({}, {"project": true})])
}

test_provider_and_module_checked if {
	results := project.deny with input as object.union(inp([]), {
		"providers": [{"instances": [object.union(t.instance("provider", {"project": "beta-prod"}, {}), {"address": "provider.google"})]}],
		"modules": [{"instances": [object.union(t.instance("module", {"project": "gamma-dev"}, {}), {"address": "module.m"})]}],
	})
	{r.address | some r in results} == {"provider.google", "module.m"}
}

test_outside_layout_not_checked if {
	count(project.deny) == 0 with input as object.union(inp([res({"project": "other-prod"}, {})]), {"project": {"dir": "platform/dns", "service": "", "env": ""}})
}

test_pattern_param if {
	count(project.deny) == 0 with input as inp([res({"project": "acme-alpha-dev"}, {})])
		with data.tfpr.params.project_pattern as "acme-{service}-{env}"
}
