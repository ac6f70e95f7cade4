package tfpr.hcl.public_bucket_test

import data.tfpr.hcl.public_bucket
import data.tfpr.lib_test as t

member(values) := t.block("google_storage_bucket_iam_member", values, {})

test_all_users_member_denied_at_both_stages if {
	some r in public_bucket.deny with input as t.hcl([member({"member": "allUsers"})])
	r.attribute == "member"
	some p in public_bucket.deny with input as t.plan([t.change("google_storage_bucket_iam_member", {"member": "allUsers"}, {})])
	p.attribute == "member"
	p.address == "google_storage_bucket_iam_member.x"
}

test_all_authenticated_in_partly_computed_list_denied if {
	b := t.block("google_storage_bucket_iam_binding", {"members": ["allAuthenticatedUsers", null]}, {"members": [false, true]})
	some r in public_bucket.deny with input as t.hcl([b])
	contains(r.msg, "allAuthenticatedUsers")
}

test_acl_role_entity_denied if {
	count(public_bucket.deny) > 0 with input as t.hcl([t.block("google_storage_bucket_acl", {"role_entity": ["READER:allUsers"]}, {})])
}

test_policy_document_denied_at_plan if {
	doc := json.marshal({"bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]})
	count(public_bucket.deny) == 1 with input as t.plan([t.change("google_storage_bucket_iam_policy", {"policy_data": doc}, {})])
}

test_private_member_passes if {
	count(public_bucket.deny) == 0 with input as t.hcl([member({"member": "group:team@acme.com"})])
	count(public_bucket.warn) == 0 with input as t.hcl([member({"member": "group:team@acme.com"})])
}

test_other_services_ignored if {
	count(public_bucket.deny) == 0 with input as t.hcl([t.block("google_cloud_run_service_iam_member", {"member": "allUsers"}, {})])
}

test_unknown_member_warns_at_lint_only if {
	b := t.block("google_storage_bucket_iam_member", {}, {"member": true})
	some r in public_bucket.warn with input as t.hcl([b])
	r.attribute == "member"
	contains(r.msg, "checks it at plan")
	count(public_bucket.warn) == 0 with input as t.plan([t.change("google_storage_bucket_iam_member", {}, {"member": true})])
}
