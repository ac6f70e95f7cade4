# METADATA
# title: primitive IAM role
# description: >-
#   roles/owner, roles/editor and roles/viewer grant far more than any
#   service needs. Grant predefined or custom roles instead, in every IAM
#   member, binding and google_iam_policy binding.
# custom:
#   id: TFPR010
#   severity: deny
#   scope: module
package tfpr.hcl.primitive_roles

import data.tfpr.lib

primitive := `"roles/(owner|editor|viewer)"`

deny contains object.union(lib.at_attr(b, "role"), {"msg": msg}) if {
	some type, blocks in lib.resources_by_type
	regex.match(`_iam_(member|binding)$`, type)
	some b in blocks
	role := regex.find_n(primitive, b.attributes.role.expr, 1)[0]
	msg := sprintf("%s grants primitive role %s", [b.address, trim(role, "\"")])
}

deny contains object.union(lib.at(d), {"msg": msg, "file": d.file, "line": bind.attributes.role.range.start_line}) if {
	some d in lib.data_by_type.google_iam_policy
	some bind in d.blocks
	bind.type == "binding"
	role := regex.find_n(primitive, bind.attributes.role.expr, 1)[0]
	msg := sprintf("%s binds primitive role %s", [d.address, trim(role, "\"")])
}
