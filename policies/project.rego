# METADATA
# title: resource outside the service's GCP project
# description: >-
#   A project under microservices/<service>/<env> may only manage its own GCP
#   project, named by data.tfpr.params.project_pattern ("{service}-{env}").
#   Literal project values on resources, provider blocks and module calls
#   must match it; values computed from variables are checked by terraform's
#   credentials instead.
# custom:
#   id: TFPR005
#   severity: deny
package tfpr.hcl.project

import data.tfpr.lib

expected := p if {
	input.project.service != ""
	input.project.env != ""
	p := replace(replace(data.tfpr.params.project_pattern, "{service}", input.project.service), "{env}", input.project.env)
}

deny contains object.union(lib.at_attr(b, "project"), {"msg": msg}) if {
	some kind in ["resources", "providers", "modules"]
	some b in input[kind]
	v := b.attributes.project.value
	v != expected
	msg := sprintf("%s uses GCP project %v; %s may only manage project %q", [b.address, v, input.project.dir, expected])
}
