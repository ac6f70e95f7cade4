# METADATA
# title: service account keys are not allowed
# description: >-
#   google_service_account_key creates a long-lived credential that ends up
#   in terraform state. Use workload identity or impersonation.
# custom:
#   id: TFPR011
#   severity: deny
#   scope: module
package tfpr.hcl.service_account_key

import data.tfpr.lib

deny contains object.union(lib.at(b), {"msg": msg}) if {
	some b in lib.resources_by_type.google_service_account_key
	msg := sprintf("%s creates a long-lived key that is stored in state; use workload identity or impersonation", [b.address])
}
