# METADATA
# title: SSH or RDP open to the internet
# description: >-
#   google_compute_firewall must not allow ingress from 0.0.0.0/0 (or ::/0)
#   to port 22 or 3389, including through port ranges or rules without ports.
# custom:
#   id: TFPR012
#   severity: deny
#   scope: module
package tfpr.hcl.firewall

import data.tfpr.lib

admin_ports := ["22", "3389"]

ingress(b) if not b.attributes.direction

ingress(b) if upper(format_value(b.attributes.direction.value)) == "INGRESS"

# A direction computed from variables could be INGRESS.
ingress(b) if {
	not b.attributes.direction.value
	b.attributes.direction
}

# Open to the world: source_ranges mentions one of these quoted literals,
# also inside an otherwise dynamic list (see lib.mentions).
world_ranges := [`"0.0.0.0/0"`, `"::/0"`]

tcp(allow) if lower(format_value(allow.attributes.protocol.value)) in {"tcp", "all", "6"}

# A computed protocol could be tcp.
tcp(allow) if not allow.attributes.protocol.value

format_value(v) := sprintf("%v", [v])

exposes(allow, _) if not allow.attributes.ports

exposes(allow, port) if {
	some p in allow.attributes.ports.value
	format_value(p) == port
}

exposes(allow, port) if {
	some p in allow.attributes.ports.value
	regex.match(`^[0-9]+-[0-9]+$`, format_value(p))
	bounds := split(format_value(p), "-")
	to_number(bounds[0]) <= to_number(port)
	to_number(port) <= to_number(bounds[1])
}

deny contains object.union(lib.at_attr(b, "source_ranges"), {"msg": msg}) if {
	some b in lib.resources_by_type.google_compute_firewall
	# First, as it rules out most firewalls cheaply.
	ranges := b.attributes.source_ranges.expr
	some world in world_ranges
	contains(ranges, world)
	ingress(b)
	some allow in b.blocks
	allow.type == "allow"
	tcp(allow)
	some port in admin_ports
	exposes(allow, port)
	msg := sprintf("%s allows port %s from the internet; restrict source_ranges or use IAP", [b.address, port])
}
