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

authoritative := {"google_project_iam_binding", "google_project_iam_policy"}

deny contains object.union(lib.at(b), {"msg": msg}) if {
	some type in authoritative
	some b in lib.resources_by_type[type]
	msg := sprintf("%s is authoritative for the whole project; use google_project_iam_member", [b.address])
}
