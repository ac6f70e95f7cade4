package tfpr.hcl.module_sources_test

import data.tfpr.hcl.module_sources

mod(source, version, local) := {
	"type": "module", "name": "m", "address": "module.m", "module": "",
	"source": source, "version": version, "local": local,
	"attributes": {"source": {"expr": sprintf("%q", [source])}},
}

denied(m) := results if {
	results := module_sources.deny with input as {"modules": [m]}
}

test_local_modules_pass if {
	count(denied(mod("./modules/db", "", true))) == 0
	count(denied(mod("../../modules/net", "", true))) == 0
}

test_allowed_registry_pinned_pass if {
	count(denied(mod("acme/network/google", "1.4.2", false))) == 0
	count(denied(mod("registry.terraform.io/acme/network/google", "=1.4.2", false))) == 0
	count(denied(mod("acme/network/google//modules/vpc", "1.4.2", false))) == 0
}

test_unpinned_registry_denied if {
	some r in denied(mod("acme/network/google", "~> 1.4", false))
	contains(r.msg, "exact version")
}

test_missing_version_denied_at_source if {
	some r in denied(mod("acme/network/google", "", false))
	r.attribute == "source"
}

test_other_namespace_denied if {
	some r in denied(mod("evilcorp/network/google", "1.0.0", false))
	contains(r.msg, "evilcorp")
}

test_private_registry_needs_host_entry if {
	count(denied(mod("app.terraform.io/acme/network/google", "1.0.0", false))) > 0
	count(denied(mod("app.terraform.io/acme/network/google", "1.0.0", false))) == 0 with data.tfpr.params.allowed_module_namespaces as ["app.terraform.io/acme"]
}

test_git_and_http_sources_denied if {
	count(denied(mod("git::https://example.com/acme/mod.git?ref=v1", "", false))) > 0
	count(denied(mod("github.com/acme/terraform-mod", "", false))) > 0
	count(denied(mod("https://example.com/mod.zip", "", false))) > 0
}

test_dynamic_source_denied if {
	count(denied(mod("", "", false))) > 0
}
