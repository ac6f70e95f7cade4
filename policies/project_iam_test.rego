package tfpr.hcl.project_iam_test

import data.tfpr.hcl.project_iam

res(type) := {"type": type, "name": "x", "address": sprintf("%s.x", [type]), "module": "", "attributes": {}}

test_binding_and_policy_denied if {
	results := project_iam.deny with input as {"resources": [res("google_project_iam_binding"), res("google_project_iam_policy")]}
	count(results) == 2
}

test_member_passes if {
	count(project_iam.deny) == 0 with input as {"resources": [res("google_project_iam_member"), res("google_storage_bucket_iam_binding")]}
}

test_binding_message_names_its_role_not_the_project if {
	some r in project_iam.deny with input as {"resources": [res("google_project_iam_binding")]}
	contains(r.msg, "authoritative for its role")
	not contains(r.msg, "whole project")
}

test_policy_message_names_the_project if {
	some r in project_iam.deny with input as {"resources": [res("google_project_iam_policy")]}
	contains(r.msg, "authoritative for the whole project")
}
