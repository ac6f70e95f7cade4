package tfpr.hcl.labels_test

import data.tfpr.hcl.labels

bucket(attrs) := {"type": "google_storage_bucket", "name": "b", "address": "google_storage_bucket.b", "module": "", "attributes": attrs, "blocks": []}

full := {"service": "alpha", "env": "dev", "owner": "team-a"}

test_complete_labels_pass if {
	count(labels.warn) == 0 with input as {"resources": [bucket({"labels": {"value": full}})]}
}

test_missing_labels_attribute_warns_at_block if {
	some r in labels.warn with input as {"resources": [bucket({})]}
	not r.attribute
	r.address == "google_storage_bucket.b"
}

test_missing_keys_warn_at_attribute if {
	some r in labels.warn with input as {"resources": [bucket({"labels": {"value": {"service": "alpha"}}})]}
	r.attribute == "labels"
	contains(r.msg, "env, owner")
}

test_dynamic_labels_not_checked if {
	count(labels.warn) == 0 with input as {"resources": [bucket({"labels": {"expr": "local.labels", "refs": ["local.labels"]}})]}
}

test_sql_user_labels if {
	sql := {"type": "google_sql_database_instance", "name": "db", "address": "google_sql_database_instance.db", "module": "", "attributes": {}, "blocks": [{"type": "settings", "labels": [], "attributes": {"user_labels": {"value": {"service": "a"}}}, "blocks": []}]}
	some r in labels.warn with input as {"resources": [sql]}
	r.attribute == "settings.user_labels"
}

test_unlabelled_types_ignored if {
	count(labels.warn) == 0 with input as {"resources": [{"type": "google_project_service", "name": "s", "address": "google_project_service.s", "module": "", "attributes": {}, "blocks": []}]}
}
