package tfpr.hcl.providers_test

import data.tfpr.hcl.providers

base := {"resources": [], "data": [], "providers": [], "terraform": {"required_providers": []}}

rp(name, source) := {"name": name, "source": source, "version": "", "module": "", "file": "main.tf", "range": {"start_line": 3, "end_line": 3}}

res(type, provider, source) := {"type": type, "name": "x", "address": sprintf("%s.x", [type]), "module": "", "provider": provider, "provider_source": source}

test_allowed_required_providers_pass if {
	count(providers.deny) == 0 with input as object.union(base, {"terraform": {"required_providers": [
		rp("google", "hashicorp/google"),
		rp("google-beta", "hashicorp/google-beta"),
		rp("random", "hashicorp/random"),
	]}})
}

test_unlisted_required_provider_denied if {
	results := providers.deny with input as object.union(base, {"terraform": {"required_providers": [rp("aws", "hashicorp/aws")]}})
	count(results) == 1
	some r in results
	r.attribute == "aws"
	r.address == "terraform.required_providers"
}

test_terraform_data_is_builtin if {
	count(providers.deny) == 0 with input as object.union(base, {"resources": [res("terraform_data", "terraform", "terraform.io/builtin/terraform")]})
}

test_implied_provider_denied_at_resource if {
	results := providers.deny with input as object.union(base, {"resources": [res("aws_instance", "aws", "hashicorp/aws")]})
	some r in results
	r.address == "aws_instance.x"
}

test_declared_provider_reported_once if {
	results := providers.deny with input as object.union(base, {
		"terraform": {"required_providers": [rp("aws", "hashicorp/aws")]},
		"resources": [res("aws_instance", "aws", "hashicorp/aws")],
	})
	count(results) == 1
}

test_provider_block_denied if {
	results := providers.deny with input as object.union(base, {"providers": [{"type": "provider", "name": "kubernetes", "address": "provider.kubernetes", "module": "", "provider_source": "hashicorp/kubernetes"}]})
	some r in results
	r.address == "provider.kubernetes"
}

test_params_override if {
	count(providers.deny) == 0 with input as object.union(base, {"terraform": {"required_providers": [rp("aws", "hashicorp/aws")]}})
		with data.tfpr.params.allowed_providers as ["registry.terraform.io/hashicorp/aws"]
}
