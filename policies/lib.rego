# Helpers shared by the default policies. Not a policy itself: it has no
# deny or warn rules and lives outside tfpr.hcl and tfpr.plan.
package tfpr.lib

# The location fields every finding object carries for a block.
at(b) := {"address": b.address, "module": b.module}

at_attr(b, attr) := {"address": b.address, "module": b.module, "attribute": attr}

# Lower-cased provider source without the default registry host.
normalize_source(s) := trim_prefix(lower(trim_space(s)), "registry.terraform.io/")

# Whether an expression's source text contains the quoted string s, which
# catches literals inside otherwise dynamic expressions such as
# ["0.0.0.0/0", var.extra_range].
mentions(attr, s) if contains(attr.expr, concat("", ["\"", s, "\""]))
