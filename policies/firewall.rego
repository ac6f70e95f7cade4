# METADATA
# title: SSH or RDP open to the internet
# description: >-
#   google_compute_firewall must not allow ingress from 0.0.0.0/0 (or ::/0)
#   to port 22 or 3389, including through port ranges, rules without ports
#   and dynamic allow blocks. Source ranges or ports lint cannot know are
#   checked at plan.
# custom:
#   id: TFPR012
#   severity: deny
#   scope: module
#   stages: [hcl, plan]
package tfpr.hcl.firewall

import data.tfpr.lib

admin_ports := ["22", "3389"]

world_ranges := {"0.0.0.0/0", "::/0"}

format_value(v) := sprintf("%v", [v])

# No direction is INGRESS; one that is not known yet could be.
ingress(r) if not r.values.direction

ingress(r) if upper(format_value(r.values.direction)) == "INGRESS"

# No protocol, or one not known yet, could be tcp.
tcp(allow) if not allow.protocol

tcp(allow) if lower(format_value(allow.protocol)) in {"tcp", "all", "6"}

# No ports (absent, null or []) is every port.
exposes(r, i, _) if {
	not r.values.allow[i].ports
	not lib.unknown(r, ["allow", i, "ports"])
}

exposes(r, i, _) if {
	r.values.allow[i].ports == []
	not lib.unknown(r, ["allow", i, "ports"])
}

exposes(r, i, port) if {
	some p in r.values.allow[i].ports
	format_value(p) == port
}

exposes(r, i, port) if {
	some p in r.values.allow[i].ports
	regex.match(`^[0-9]+-[0-9]+$`, format_value(p))
	bounds := split(format_value(p), "-")
	to_number(bounds[0]) <= to_number(port)
	to_number(port) <= to_number(bounds[1])
}

open_to_world(r) if {
	some range in r.values.source_ranges
	range in world_ranges
}

denied contains r.address if {
	some r in lib.resources("google_compute_firewall")
	some _ in violations(r)
}

violations(r) := {port |
	open_to_world(r)
	ingress(r)
	some i, allow in r.values.allow
	tcp(allow)
	some port in admin_ports
	exposes(r, i, port)
}

deny contains object.union(lib.at_attr(r, "source_ranges"), {"msg": msg}) if {
	some r in lib.resources("google_compute_firewall")
	some port in violations(r)
	msg := sprintf("%s allows port %s from the internet; restrict source_ranges or use IAP", [r.address, port])
}

warn contains object.union(lib.at_attr(r, "source_ranges"), {"msg": lib.unknown_msg(r, "source_ranges")}) if {
	not lib.is_plan
	some r in lib.resources("google_compute_firewall")
	not r.address in denied
	lib.unknown(r, ["source_ranges"])
}

warn contains object.union(lib.at_attr(r, "allow"), {"msg": lib.unknown_msg(r, "allow")}) if {
	not lib.is_plan
	some r in lib.resources("google_compute_firewall")
	not r.address in denied
	open_to_world(r)
	lib.unknown(r, ["allow"])
}
