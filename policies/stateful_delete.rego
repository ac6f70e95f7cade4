# METADATA
# title: stateful resource would be deleted
# description: >-
#   Deleting or replacing a database, Spanner or Bigtable instance or a
#   bucket loses data. The plan is blocked until the change is approved for
#   this rule.
# custom:
#   id: TFPR101
#   severity: deny
package tfpr.plan.stateful_delete

stateful := {
	"google_spanner_instance",
	"google_spanner_database",
	"google_sql_database_instance",
	"google_sql_database",
	"google_storage_bucket",
	"google_bigtable_instance",
}

verb(actions) := "replaced" if "create" in actions

verb(actions) := "destroyed" if not "create" in actions

deny contains {"msg": msg, "address": rc.address} if {
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.type in stateful
	"delete" in rc.change.actions
	msg := sprintf("%s would be %s, losing its data; this needs approval", [rc.address, verb(rc.change.actions)])
}
