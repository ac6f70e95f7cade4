# METADATA
# title: public Cloud Storage access
# description: >-
#   Cloud Storage IAM and ACL resources must not grant allUsers or
#   allAuthenticatedUsers, also when the member list is partly computed.
# custom:
#   id: TFPR007
#   severity: deny
#   scope: module
package tfpr.hcl.public_bucket

import data.tfpr.lib

# A quoted member ("allUsers") or an ACL entity ("READER:allUsers").
public := `[":](allUsers|allAuthenticatedUsers)"`

deny contains object.union(lib.at_attr(b, name), {"msg": msg}) if {
	some type, blocks in lib.resources_by_type
	startswith(type, "google_storage_")
	some b in blocks
	some name
	# Every match ends in Users"; the substring test is the cheap first cut.
	contains(b.attributes[name].expr, "Users\"")
	attr := b.attributes[name]
	some m in regex.find_all_string_submatch_n(public, attr.expr, -1)
	msg := sprintf("%s grants %s access to Cloud Storage; buckets must not be public", [b.address, m[1]])
}
