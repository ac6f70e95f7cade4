package tfpr.hcl.labels_test

import data.tfpr.hcl.labels
import data.tfpr.lib_test as t

bucket(values, unknown) := t.block("google_storage_bucket", values, unknown)

full := {"service": "alpha", "env": "dev", "owner": "team-a"}

test_complete_labels_pass if {
	count(labels.warn) == 0 with input as t.hcl([bucket({"labels": full}, {})])
}

test_missing_labels_attribute_warns_at_block if {
	some r in labels.warn with input as t.hcl([bucket({}, {})])
	not r.attribute
	r.address == "google_storage_bucket.x"
}

test_missing_keys_warn_at_attribute if {
	some r in labels.warn with input as t.hcl([bucket({"labels": {"service": "alpha"}}, {})])
	r.attribute == "labels"
	contains(r.msg, "env, owner")
}

test_unknown_labels_not_checked if {
	count(labels.warn) == 0 with input as t.hcl([bucket({}, {"labels": true})])
	count(labels.warn) == 0 with input as t.hcl([bucket({"labels": {"service": "a"}}, {"labels": {"env": true}})])
}

test_sql_user_labels if {
	sql := t.block("google_sql_database_instance", {"settings": [{"user_labels": {"service": "a"}}]}, {})
	some r in labels.warn with input as t.hcl([sql])
	r.attribute == "settings.user_labels"
}

test_unlabelled_types_ignored if {
	count(labels.warn) == 0 with input as t.hcl([t.block("google_project_service", {}, {})])
}
