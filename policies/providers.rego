# METADATA
# title: provider not in the allowlist
# description: >-
#   Providers run as plugins with the project's credentials, so only the
#   sources in data.tfpr.params.allowed_providers may be used. Resources and
#   provider blocks without a required_providers entry use the provider
#   terraform implies (hashicorp/<prefix>); terraform_data is built in.
# custom:
#   id: TFPR002
#   severity: deny
#   scope: module
package tfpr.hcl.providers

import data.tfpr.lib

allowed_sources := {lib.normalize_source(a) | some a in data.tfpr.params.allowed_providers}

allowed(source) if source in allowed_sources

declared(module, name) if {
	some p in input.terraform.required_providers
	p.module == module
	p.name == name
}

deny contains r if {
	some p in input.terraform.required_providers
	not allowed(p.source)
	r := {
		"msg": sprintf("provider %q (%s) is not in the allowlist: %s", [p.name, p.source, concat(", ", data.tfpr.params.allowed_providers)]),
		"address": "terraform.required_providers",
		"attribute": p.name,
		"module": p.module,
	}
}

# The sources resources and data sources use that are not allowed. Usually
# there are none, and the rules below need no pass over every block.
unlisted_sources := ({b.provider_source | some b in input.resources} | {b.provider_source | some b in input.data}) - allowed_sources

# Undeclared providers are reported where they are used; declared ones were
# already reported at their required_providers entry.
deny contains object.union(lib.at(b), {"msg": msg}) if {
	some source in unlisted_sources
	some b in input.resources
	b.provider_source == source
	not declared(b.module, b.provider)
	msg := sprintf("%s uses provider %s, which is not in the allowlist", [b.address, b.provider_source])
}

deny contains object.union(lib.at(b), {"msg": msg}) if {
	some source in unlisted_sources
	some b in input.data
	b.provider_source == source
	not declared(b.module, b.provider)
	msg := sprintf("%s uses provider %s, which is not in the allowlist", [b.address, b.provider_source])
}

deny contains object.union(lib.at(b), {"msg": msg}) if {
	some b in input.providers
	not allowed(b.provider_source)
	not declared(b.module, b.name)
	msg := sprintf("%s configures provider %s, which is not in the allowlist", [b.address, b.provider_source])
}
