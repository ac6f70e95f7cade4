package tfpr.plan.stateful_delete_test

import data.tfpr.plan.stateful_delete

change(type, actions) := {"address": sprintf("%s.x", [type]), "mode": "managed", "type": type, "name": "x", "change": {"actions": actions}}

test_bucket_delete_denied if {
	some r in stateful_delete.deny with input as {"resource_changes": [change("google_storage_bucket", ["delete"])]}
	r.address == "google_storage_bucket.x"
	contains(r.msg, "destroyed")
}

test_replace_denied if {
	some r in stateful_delete.deny with input as {"resource_changes": [change("google_sql_database_instance", ["delete", "create"])]}
	contains(r.msg, "replaced")
}

test_update_and_stateless_delete_pass if {
	count(stateful_delete.deny) == 0 with input as {"resource_changes": [
		change("google_storage_bucket", ["update"]),
		change("google_pubsub_topic", ["delete"]),
		change("google_spanner_instance", ["no-op"]),
	]}
}

test_data_sources_ignored if {
	count(stateful_delete.deny) == 0 with input as {"resource_changes": [object.union(change("google_storage_bucket", ["delete"]), {"mode": "data"})]}
}
