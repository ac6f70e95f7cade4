package tfpr.hcl.primitive_roles_test

import data.tfpr.hcl.primitive_roles
import data.tfpr.lib_test as t

member(type, role) := t.block(type, {"role": role}, {})

test_primitive_roles_denied if {
	results := primitive_roles.deny with input as t.hcl([
		member("google_project_iam_member", "roles/owner"),
		member("google_storage_bucket_iam_binding", "roles/editor"),
		member("google_folder_iam_member", "roles/viewer"),
	])
	count(results) == 3
	every r in results {
		r.attribute == "role"
	}
}

test_primitive_role_denied_at_plan if {
	some r in primitive_roles.deny with input as t.plan([t.change("google_project_iam_member", {"role": "roles/owner"}, {})])
	r.attribute == "role"
}

test_predefined_role_passes if {
	count(primitive_roles.deny) == 0 with input as t.hcl([member("google_project_iam_member", "roles/storage.objectViewer")])
	count(primitive_roles.deny) == 0 with input as t.hcl([member("google_project_iam_member", "roles/ownerish")])
}

test_iam_policy_data_binding_denied if {
	d := t.block("google_iam_policy", {"binding": [{"role": "roles/browser"}, {"role": "roles/editor"}]}, {})
	some r in primitive_roles.deny with input as t.hcl_data([d])
	r.attribute == "binding.1.role"
}

test_iam_policy_data_binding_denied_at_plan if {
	p := {"format_version": "1.2", "resource_changes": [], "prior_state": {"values": {"root_module": {"resources": [
		{"address": "data.google_iam_policy.p", "mode": "data", "type": "google_iam_policy", "name": "p", "values": {"binding": [{"role": "roles/owner", "members": ["user:a@acme.com"]}]}},
	]}}}}
	some r in primitive_roles.deny with input as p
	r.address == "data.google_iam_policy.p"
	r.attribute == "binding.role"
}

test_unknown_role_warns_at_lint_only if {
	b := t.block("google_project_iam_member", {}, {"role": true})
	some r in primitive_roles.warn with input as t.hcl([b])
	r.attribute == "role"
	count(primitive_roles.warn) == 0 with input as t.plan([t.change("google_project_iam_member", {}, {"role": true})])
}

test_unknown_bindings_warn if {
	d := t.block("google_iam_policy", {"binding": []}, {"binding": true})
	count(primitive_roles.warn) == 1 with input as t.hcl_data([d])
}
