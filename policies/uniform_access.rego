# METADATA
# title: bucket without uniform bucket-level access
# description: >-
#   google_storage_bucket must set uniform_bucket_level_access = true so
#   access is governed by IAM alone, not per-object ACLs.
# custom:
#   id: TFPR008
#   severity: deny
#   scope: module
package tfpr.hcl.uniform_access

import data.tfpr.lib

deny contains object.union(lib.at(b), {"msg": msg}) if {
	some b in lib.resources_by_type.google_storage_bucket
	not b.attributes.uniform_bucket_level_access
	msg := sprintf("%s must set uniform_bucket_level_access = true", [b.address])
}

deny contains object.union(lib.at_attr(b, "uniform_bucket_level_access"), {"msg": msg}) if {
	some b in lib.resources_by_type.google_storage_bucket
	b.attributes.uniform_bucket_level_access.value != true
	msg := sprintf("%s must set uniform_bucket_level_access = true", [b.address])
}
