# METADATA
# title: required labels missing
# description: >-
#   Google resources that take labels carry service, env and owner so cost
#   and ownership can be traced. Labels computed from variables or locals
#   are not checked.
# custom:
#   id: TFPR006
#   severity: warn
#   scope: module
package tfpr.hcl.labels

import data.tfpr.lib

required := ["service", "env", "owner"]

# The labels attribute per resource type; Cloud SQL keeps them in
# settings { user_labels = ... }.
labelled := {
	"google_storage_bucket": "labels",
	"google_compute_instance": "labels",
	"google_sql_database_instance": "settings.user_labels",
	"google_spanner_instance": "labels",
	"google_pubsub_topic": "labels",
	"google_bigquery_dataset": "labels",
}

labels_attr(b) := b.attributes.labels if labelled[b.type] == "labels"

labels_attr(b) := s.attributes.user_labels if {
	labelled[b.type] == "settings.user_labels"
	some s in b.blocks
	s.type == "settings"
}

# The rules come in pairs: the common top-level labels attribute is read
# directly, the rest through labels_attr. Rule and helper lookups are made
# once per rule, not per block.
warn contains object.union(lib.at(b), {"msg": msg}) if {
	by_type := lib.resources_by_type
	some type, where in labelled
	where == "labels"
	some b in by_type[type]
	not b.attributes.labels
	msg := sprintf("%s has no labels; add %s", [b.address, concat(", ", required)])
}

warn contains object.union(lib.at(b), {"msg": msg}) if {
	by_type := lib.resources_by_type
	some type, where in labelled
	where != "labels"
	some b in by_type[type]
	not labels_attr(b)
	msg := sprintf("%s has no labels; add %s", [b.address, concat(", ", required)])
}

warn contains object.union(lib.at_attr(b, where), {"msg": msg}) if {
	by_type := lib.resources_by_type
	want := required
	some type, where in labelled
	where == "labels"
	some b in by_type[type]
	labels := b.attributes.labels.value
	is_object(labels)
	count(object.filter(labels, want)) < count(want)
	missing := [k | some k in want; not k in object.keys(labels)]
	msg := sprintf("%s is missing labels %s", [b.address, concat(", ", missing)])
}

warn contains object.union(lib.at_attr(b, where), {"msg": msg}) if {
	by_type := lib.resources_by_type
	want := required
	some type, where in labelled
	where != "labels"
	some b in by_type[type]
	labels := labels_attr(b).value
	is_object(labels)
	count(object.filter(labels, want)) < count(want)
	missing := [k | some k in want; not k in object.keys(labels)]
	msg := sprintf("%s is missing labels %s", [b.address, concat(", ", missing)])
}
