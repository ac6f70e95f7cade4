# METADATA
# title: bucket without uniform bucket-level access
# description: >-
#   google_storage_bucket must set uniform_bucket_level_access = true so
#   access is governed by IAM alone, not per-object ACLs.
# custom:
#   id: TFPR008
#   severity: deny
#   scope: module
#   stages: [hcl, plan]
package tfpr.hcl.uniform_access

import data.tfpr.lib

attr := "uniform_bucket_level_access"

# Leaving it out is a property of the source; at plan the provider may
# report the attribute as not known yet.
deny contains object.union(lib.at(r), {"msg": msg}) if {
	not lib.is_plan
	some r in lib.resources("google_storage_bucket")
	not lib.set(r, attr)
	msg := sprintf("%s must set uniform_bucket_level_access = true", [r.address])
}

deny contains object.union(lib.at_attr(r, attr), {"msg": msg}) if {
	some r in lib.resources("google_storage_bucket")
	attr in object.keys(r.values)
	r.values[attr] != true
	not lib.unknown(r, [attr])
	msg := sprintf("%s must set uniform_bucket_level_access = true", [r.address])
}

warn contains object.union(lib.at_attr(r, attr), {"msg": lib.unknown_msg(r, attr)}) if {
	not lib.is_plan
	some r in lib.resources("google_storage_bucket")
	lib.unknown(r, [attr])
}
