# METADATA
# title: backend must be a partial gcs backend
# description: >-
#   tfpr owns state: it passes bucket and prefix at terraform init. A project
#   declares exactly backend "gcs" {} with no attributes, so code cannot
#   point state (and state credentials) somewhere else.
# custom:
#   id: TFPR004
#   severity: deny
#   scope: module
package tfpr.hcl.backend

deny contains {"msg": msg, "address": "terraform.backend", "module": ""} if {
	input.backend.type != "gcs"
	msg := sprintf("backend %q is not allowed; declare backend \"gcs\" {} and let tfpr configure it", [input.backend.type])
}

deny contains {"msg": msg, "address": "terraform.backend", "attribute": name, "module": ""} if {
	input.backend.type == "gcs"
	some name, _ in input.backend.attributes
	msg := sprintf("backend \"gcs\" must be empty: remove %s, tfpr sets the state location at init", [name])
}

deny contains {"msg": msg, "address": "terraform.backend", "attribute": b.type, "module": ""} if {
	some b in input.backend.blocks
	msg := sprintf("backend %q must be empty: remove the %s block", [input.backend.type, b.type])
}

deny contains {"msg": "terraform { cloud {} } is not allowed; tfpr runs terraform with a gcs backend", "address": "terraform.cloud", "module": ""} if {
	input.terraform.cloud != null
}
