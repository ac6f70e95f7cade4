# METADATA
# title: primitive IAM role
# description: >-
#   roles/owner, roles/editor and roles/viewer grant far more than any
#   service needs. Grant predefined or custom roles instead, in every IAM
#   member, binding and google_iam_policy binding. A role lint cannot know
#   is checked at plan.
# custom:
#   id: TFPR010
#   severity: deny
#   scope: module
#   stages: [hcl, plan]
package tfpr.hcl.primitive_roles

import data.tfpr.lib

primitive(role) if {
	is_string(role)
	regex.match(`^roles/(owner|editor|viewer)$`, role)
}

iam(type) if regex.match(`_iam_(member|binding)$`, type)

deny contains object.union(lib.at_attr(r, "role"), {"msg": msg}) if {
	some type in lib.resource_types
	iam(type)
	some r in lib.resources(type)
	primitive(r.values.role)
	msg := sprintf("%s grants primitive role %s", [r.address, r.values.role])
}

deny contains object.union(lib.at_attr(d, lib.nested_attr("binding", i, "role")), {"msg": msg}) if {
	some d in lib.data_sources("google_iam_policy")
	some i, bind in d.values.binding
	primitive(bind.role)
	msg := sprintf("%s binds primitive role %s", [d.address, bind.role])
}

warn contains object.union(lib.at_attr(r, "role"), {"msg": lib.unknown_msg(r, "role")}) if {
	not lib.is_plan
	some type in lib.resource_types
	iam(type)
	some r in lib.resources(type)
	lib.unknown(r, ["role"])
}

warn contains object.union(lib.at_attr(d, "binding"), {"msg": lib.unknown_msg(d, "binding")}) if {
	not lib.is_plan
	some d in lib.data_sources("google_iam_policy")
	lib.unknown(d, ["binding"])
}
