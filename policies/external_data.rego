# METADATA
# title: data "external" is not allowed
# description: >-
#   The external data source runs an arbitrary program on the tfpr host
#   during terraform plan, before anyone reviewed the change.
# custom:
#   id: TFPR001
#   severity: deny
#   scope: module
package tfpr.hcl.external_data

import data.tfpr.lib

deny contains object.union(lib.at(d), {"msg": msg}) if {
	some d in lib.data_by_type.external
	msg := sprintf("%s runs a program during terraform plan; data \"external\" is not allowed", [d.address])
}
