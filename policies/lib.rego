# Helpers shared by the default policies. Not a policy itself: it has no
# deny or warn rules and lives outside tfpr.hcl and tfpr.plan.
package tfpr.lib

# The location fields every finding object carries for a block.
at(b) := {"address": b.address, "module": b.module}

at_attr(b, attr) := {"address": b.address, "module": b.module, "attribute": attr}

# Lower-cased provider source without the default registry host.
normalize_source(s) := trim_prefix(lower(trim_space(s)), "registry.terraform.io/")

# input.resources and input.data grouped by type. tfpr passes them as
# input.resources_by_type and input.data_by_type; inputs written by hand,
# as in unit tests, may hold only the arrays.
resources_by_type := input.resources_by_type if input.resources_by_type

resources_by_type := by_type(input.resources) if not input.resources_by_type

data_by_type := input.data_by_type if input.data_by_type

data_by_type := by_type(input.data) if not input.data_by_type

by_type(blocks) := {t: [b | some b in blocks; b.type == t] | some x in blocks; t := x.type}


# Resources by value, at either stage.
#
# Rules that judge attribute values read one normalized shape, so the same
# rule runs on the HCL input at lint and on the plan JSON at plan (a package
# declares both with custom.stages: [hcl, plan]) and the two cannot drift
# apart. Each resource or data source instance is:
#
#   {"type", "name", "address", "module", "values", "unknown"}
#
# values is what `terraform show -json` prints as change.after: attributes
# by name, nested blocks as lists of objects. unknown mirrors it the way
# after_unknown does: true where a value is not known yet, at any depth.
# At lint, values hold what tfpr could evaluate (literals, variables with
# their defaults and the project's .tfvars, locals, pure functions, count,
# for_each and dynamic blocks); whatever depends on a resource, a data
# source or a module input is unknown until plan.

# Whether input is a plan rather than HCL.
is_plan if input.format_version

# Resource types present, at either stage.
resource_types := {t | some t, _ in resources_by_type} if not is_plan

resource_types := {rc.type | some rc in input.resource_changes; rc.mode == "managed"} if is_plan

# The managed resource instances of type t. At lint each block's
# instances already have the normalized shape, and tfpr indexes them by
# type in input.resource_instances (hand-written inputs may hold only the
# blocks).
resources(t) := input.resource_instances[t] if {
	not is_plan
	input.resource_instances
}

resources(t) := [i | some b in resources_by_type[t]; some i in b.instances] if {
	not is_plan
	not input.resource_instances
}

resources(t) := [plan_instance(rc) |
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.type == t
	is_object(rc.change.after)
] if is_plan

# Every managed resource instance.
all_resources := [i | some b in input.resources; some i in b.instances] if not is_plan

all_resources := [plan_instance(rc) |
	some rc in input.resource_changes
	rc.mode == "managed"
	is_object(rc.change.after)
] if is_plan

# The data source instances of type t. At plan, those read during plan
# are in prior_state, those deferred to apply in resource_changes.
data_sources(t) := input.data_instances[t] if {
	not is_plan
	input.data_instances
}

data_sources(t) := [i | some b in data_by_type[t]; some i in b.instances] if {
	not is_plan
	not input.data_instances
}

data_sources(t) := array.concat(
	[plan_instance(rc) | some rc in input.resource_changes; rc.mode == "data"; rc.type == t; is_object(rc.change.after)],
	[state_instance(r) | some m in state_modules; some r in m.resources; r.mode == "data"; r.type == t],
) if is_plan

# Module calls and provider blocks exist at lint only.
module_calls := [i | some b in input.modules; some i in b.instances] if not is_plan

module_calls := [] if is_plan

provider_blocks := [i | some b in input.providers; some i in b.instances] if not is_plan

provider_blocks := [] if is_plan

# The module field is left empty: tfpr maps the plan address to the HCL
# block of whichever module declares it.
plan_instance(rc) := {
	"type": rc.type, "name": rc.name, "address": rc.address, "module": "",
	"values": rc.change.after, "unknown": object.get(rc.change, "after_unknown", {}),
}

state_instance(r) := {
	"type": r.type, "name": r.name, "address": r.address, "module": "",
	"values": r.values, "unknown": {},
}

state_modules contains input.prior_state.values.root_module

state_modules contains m if {
	walk(input.prior_state.values.root_module, [path, m])
	count(path) > 1
	path[count(path) - 2] == "child_modules"
}

# Whether the value at path (a list of keys and indexes) is unknown, in
# whole or in part.
unknown(r, path) if {
	_ := r.unknown[path[0]]
	walk(r.unknown, [p, true])
	count(p) >= count(path)
	array.slice(p, 0, count(path)) == path
}

# Or a block or collection holding it is unknown as a whole.
unknown(r, path) if {
	_ := r.unknown[path[0]]
	some n in numbers.range(1, count(path) - 1)
	n < count(path)
	prefix := array.slice(path, 0, n)
	walk(r.unknown, [prefix, true])
}

# Whether an attribute is set: known, or set to something unknown.
set(r, name) if name in object.keys(r.values)

set(r, name) if unknown(r, [name])

# The location of a value inside a nested block. At plan, nested blocks
# are sets with no fixed order: the first written block with the
# attribute stands for them.
nested_attr(block, i, attr) := sprintf("%s.%d.%s", [block, i, attr]) if not is_plan

nested_attr(block, _, attr) := sprintf("%s.%s", [block, attr]) if is_plan

# The warning for a value a deny rule needs but lint cannot know. The rule
# judges it at plan, which blocks the apply like any plan policy.
unknown_msg(r, attr) := sprintf("%s: %s is not known before plan (it depends on a resource, a data source or a module input); this rule checks it at plan", [r.address, attr])
