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

# Whether an expression's source text contains the quoted string s, which
# catches literals inside otherwise dynamic expressions such as
# ["0.0.0.0/0", var.extra_range].
mentions(attr, s) if contains(attr.expr, concat("", ["\"", s, "\""]))
