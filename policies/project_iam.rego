# METADATA
# title: authoritative project IAM
# description: >-
#   google_project_iam_binding and google_project_iam_policy replace every
#   other grant of a role (or the whole project policy) and lock out other
#   owners. Use google_project_iam_member.
# custom:
#   id: TFPR009
#   severity: deny
#   scope: module
package tfpr.hcl.project_iam

import data.tfpr.lib

# What each type replaces: a binding owns every member of its one role, a
# policy the project's whole IAM policy.
authoritative := {
	"google_project_iam_binding": "is authoritative for its role: it removes every other member of that role in the project",
	"google_project_iam_policy": "is authoritative for the whole project: it replaces every grant of every role",
}

deny contains object.union(lib.at(b), {"msg": msg}) if {
	some type, what in authoritative
	some b in lib.resources_by_type[type]
	msg := sprintf("%s %s; use google_project_iam_member", [b.address, what])
}
