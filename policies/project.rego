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
#   scope: module
package tfpr.hcl.project

import data.tfpr.lib

expected := p if {
	input.project.service != ""
	input.project.env != ""
	p := replace(replace(data.tfpr.params.project_pattern, "{service}", input.project.service), "{env}", input.project.env)
}

# One rule per kind of block, with expected looked up once per rule rather
# than once per block: this runs on every block of the project and its
# modules.
deny contains object.union(lib.at_attr(b, "project"), {"msg": msg}) if {
	want := expected
	some b in input.resources
	v := b.attributes.project.value
	v != want
	msg := sprintf("%s uses GCP project %v; %s may only manage project %q", [b.address, v, input.project.dir, want])
}

deny contains object.union(lib.at_attr(b, "project"), {"msg": msg}) if {
	want := expected
	some b in input.providers
	v := b.attributes.project.value
	v != want
	msg := sprintf("%s uses GCP project %v; %s may only manage project %q", [b.address, v, input.project.dir, want])
}

deny contains object.union(lib.at_attr(b, "project"), {"msg": msg}) if {
	want := expected
	some b in input.modules
	v := b.attributes.project.value
	v != want
	msg := sprintf("%s uses GCP project %v; %s may only manage project %q", [b.address, v, input.project.dir, want])
}
