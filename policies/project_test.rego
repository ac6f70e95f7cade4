package tfpr.hcl.project_test

import data.tfpr.hcl.project

res(project_attr) := {"type": "google_storage_bucket", "name": "b", "address": "google_storage_bucket.b", "module": "", "attributes": project_attr}

inp(resources) := {"project": {"dir": "microservices/alpha/dev", "service": "alpha", "env": "dev"}, "resources": resources, "providers": [], "modules": []}

test_own_project_passes if {
	count(project.deny) == 0 with input as inp([res({"project": {"value": "alpha-dev", "expr": "\"alpha-dev\""}})])
}

test_other_project_denied_at_attribute if {
	results := project.deny with input as inp([res({"project": {"value": "other-prod", "expr": "\"other-prod\""}})])
	count(results) == 1
	some r in results
	r.attribute == "project"
	contains(r.msg, "alpha-dev")
}

test_dynamic_project_passes if {
	count(project.deny) == 0 with input as inp([res({"project": {"expr": "var.project", "refs": ["var.project"]}})])
}

test_provider_and_module_checked if {
	results := project.deny with input as object.union(inp([]), {
		"providers": [{"type": "provider", "name": "google", "address": "provider.google", "module": "", "attributes": {"project": {"value": "beta-prod"}}}],
		"modules": [{"type": "module", "name": "m", "address": "module.m", "module": "", "attributes": {"project": {"value": "gamma-dev"}}}],
	})
	{r.address | some r in results} == {"provider.google", "module.m"}
}

test_outside_layout_not_checked if {
	count(project.deny) == 0 with input as object.union(inp([res({"project": {"value": "other-prod"}})]), {"project": {"dir": "platform/dns", "service": "", "env": ""}})
}

test_pattern_param if {
	count(project.deny) == 0 with input as inp([res({"project": {"value": "acme-alpha-dev"}})])
		with data.tfpr.params.project_pattern as "acme-{service}-{env}"
}
