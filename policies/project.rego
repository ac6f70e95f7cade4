# METADATA
# title: resource outside the service's GCP project
# description: >-
#   A project under microservices/<service>/<env> may only manage its own GCP
#   project, named by data.tfpr.params.project_pattern ("{service}-{env}").
#   The project of resources, provider blocks and module calls must match
#   it, however it is written; a resource's project that lint cannot know
#   (a module input) is checked at plan, and terraform's credentials are
#   limited to the project as well.
# custom:
#   id: TFPR005
#   severity: deny
#   scope: module
#   stages: [hcl, plan]
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
deny contains object.union(lib.at_attr(r, "project"), {"msg": msg}) if {
	want := expected
	some r in lib.all_resources
	v := r.values.project
	is_string(v)
	v != want
	msg := sprintf("%s uses GCP project %v; %s may only manage project %q", [r.address, v, input.project.dir, want])
}

deny contains object.union(lib.at_attr(b, "project"), {"msg": msg}) if {
	want := expected
	some b in array.concat(lib.provider_blocks, lib.module_calls)
	v := b.values.project
	is_string(v)
	v != want
	msg := sprintf("%s uses GCP project %v; %s may only manage project %q", [b.address, v, input.project.dir, want])
}
