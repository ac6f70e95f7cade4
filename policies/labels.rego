# METADATA
# title: required labels missing
# description: >-
#   Google resources that take labels carry service, env and owner so cost
#   and ownership can be traced. Labels lint cannot know (computed from a
#   resource or a module input) are not checked.
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

# The labels of r, with the unknown path that would hide them.
labels(r, "labels") := r.values.labels

labels(r, "settings.user_labels") := r.values.settings[0].user_labels

unknown_labels(r, "labels") if lib.unknown(r, ["labels"])

unknown_labels(r, "settings.user_labels") if lib.unknown(r, ["settings"])

warn contains object.union(lib.at(r), {"msg": msg}) if {
	some type, where in labelled
	some r in lib.resources(type)
	not labels(r, where)
	not unknown_labels(r, where)
	msg := sprintf("%s has no labels; add %s", [r.address, concat(", ", required)])
}

warn contains object.union(lib.at_attr(r, where), {"msg": msg}) if {
	want := required
	some type, where in labelled
	some r in lib.resources(type)
	l := labels(r, where)
	is_object(l)
	missing := [k | some k in want; not k in object.keys(l)]
	count(missing) > 0
	not unknown_labels(r, where)
	msg := sprintf("%s is missing labels %s", [r.address, concat(", ", missing)])
}
