package tfpr.hcl.public_bucket_test

import data.tfpr.hcl.public_bucket

res(type, attrs) := {"type": type, "name": "x", "address": sprintf("%s.x", [type]), "module": "", "attributes": attrs}

test_all_users_member_denied if {
	some r in public_bucket.deny with input as {"resources": [res("google_storage_bucket_iam_member", {"member": {"value": "allUsers", "expr": "\"allUsers\""}})]}
	r.attribute == "member"
}

test_all_authenticated_in_dynamic_list_denied if {
	some r in public_bucket.deny with input as {"resources": [res("google_storage_bucket_iam_binding", {"members": {"expr": "[\"allAuthenticatedUsers\", var.reader]", "refs": ["var.reader"]}})]}
	contains(r.msg, "allAuthenticatedUsers")
}

test_acl_role_entity_denied if {
	count(public_bucket.deny) > 0 with input as {"resources": [res("google_storage_bucket_acl", {"role_entity": {"expr": "[\"READER:allUsers\"]"}})]}
}

test_private_member_passes if {
	count(public_bucket.deny) == 0 with input as {"resources": [res("google_storage_bucket_iam_member", {"member": {"value": "group:team@acme.com", "expr": "\"group:team@acme.com\""}})]}
}

test_other_services_ignored if {
	count(public_bucket.deny) == 0 with input as {"resources": [res("google_cloud_run_service_iam_member", {"member": {"expr": "\"allUsers\""}})]}
}
