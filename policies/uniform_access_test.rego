package tfpr.hcl.uniform_access_test

import data.tfpr.hcl.uniform_access
import data.tfpr.lib_test as t

bucket(values, unknown) := t.block("google_storage_bucket", values, unknown)

test_enabled_passes if {
	count(uniform_access.deny) == 0 with input as t.hcl([bucket({"uniform_bucket_level_access": true}, {})])
	count(uniform_access.deny) == 0 with input as t.plan([t.change("google_storage_bucket", {"uniform_bucket_level_access": true}, {})])
}

test_missing_denied_at_block if {
	some r in uniform_access.deny with input as t.hcl([bucket({}, {})])
	not r.attribute
}

test_false_denied_at_attribute_at_both_stages if {
	some r in uniform_access.deny with input as t.hcl([bucket({"uniform_bucket_level_access": false}, {})])
	r.attribute == "uniform_bucket_level_access"
	some p in uniform_access.deny with input as t.plan([t.change("google_storage_bucket", {"uniform_bucket_level_access": false}, {})])
	p.attribute == "uniform_bucket_level_access"
}

test_unknown_warns_at_lint if {
	b := bucket({}, {"uniform_bucket_level_access": true})
	count(uniform_access.deny) == 0 with input as t.hcl([b])
	some r in uniform_access.warn with input as t.hcl([b])
	r.attribute == "uniform_bucket_level_access"
}

test_computed_at_plan_is_not_absent if {
	rc := t.change("google_storage_bucket", {}, {"uniform_bucket_level_access": true})
	count(uniform_access.deny) == 0 with input as t.plan([rc])
	count(uniform_access.warn) == 0 with input as t.plan([rc])
}
