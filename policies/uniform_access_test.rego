package tfpr.hcl.uniform_access_test

import data.tfpr.hcl.uniform_access

bucket(attrs) := {"type": "google_storage_bucket", "name": "b", "address": "google_storage_bucket.b", "module": "", "attributes": attrs}

test_enabled_passes if {
	count(uniform_access.deny) == 0 with input as {"resources": [bucket({"uniform_bucket_level_access": {"value": true}})]}
}

test_missing_denied_at_block if {
	some r in uniform_access.deny with input as {"resources": [bucket({})]}
	not r.attribute
}

test_false_denied_at_attribute if {
	some r in uniform_access.deny with input as {"resources": [bucket({"uniform_bucket_level_access": {"value": false}})]}
	r.attribute == "uniform_bucket_level_access"
}
