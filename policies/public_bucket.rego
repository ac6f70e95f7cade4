# METADATA
# title: public Cloud Storage access
# description: >-
#   Cloud Storage IAM and ACL resources must not grant allUsers or
#   allAuthenticatedUsers, also when the member list is partly computed.
# custom:
#   id: TFPR007
#   severity: deny
package tfpr.hcl.public_bucket

import data.tfpr.lib

# A quoted member ("allUsers") or an ACL entity ("READER:allUsers").
public := `[":](allUsers|allAuthenticatedUsers)"`

deny contains object.union(lib.at_attr(b, name), {"msg": msg}) if {
	some b in input.resources
	startswith(b.type, "google_storage_")
	some name, attr in b.attributes
	regex.match(public, attr.expr)
	some m in regex.find_all_string_submatch_n(public, attr.expr, -1)
	msg := sprintf("%s grants %s access to Cloud Storage; buckets must not be public", [b.address, m[1]])
}
