package tfpr.hcl.primitive_roles_test

import data.tfpr.hcl.primitive_roles

member(type, role) := {"type": type, "name": "x", "address": sprintf("%s.x", [type]), "module": "", "attributes": {"role": {"value": role, "expr": sprintf("%q", [role])}}}

test_primitive_roles_denied if {
	results := primitive_roles.deny with input as {"data": [], "resources": [
		member("google_project_iam_member", "roles/owner"),
		member("google_storage_bucket_iam_binding", "roles/editor"),
		member("google_folder_iam_member", "roles/viewer"),
	]}
	count(results) == 3
	every r in results {
		r.attribute == "role"
	}
}

test_predefined_role_passes if {
	count(primitive_roles.deny) == 0 with input as {"data": [], "resources": [member("google_project_iam_member", "roles/storage.objectViewer")]}
}

test_iam_policy_data_binding_denied if {
	d := {"type": "google_iam_policy", "name": "p", "address": "data.google_iam_policy.p", "module": "", "file": "iam.tf", "blocks": [
		{"type": "binding", "attributes": {"role": {"expr": "\"roles/editor\"", "range": {"start_line": 7, "end_line": 7}}}},
	]}
	some r in primitive_roles.deny with input as {"resources": [], "data": [d]}
	r.line == 7
	r.file == "iam.tf"
}
