package tfpr.hcl.firewall_test

import data.tfpr.hcl.firewall

fw(attrs, allows) := {"type": "google_compute_firewall", "name": "fw", "address": "google_compute_firewall.fw", "module": "", "attributes": attrs, "blocks": allows}

allow(attrs) := {"type": "allow", "labels": [], "attributes": attrs, "blocks": []}

world := {"source_ranges": {"value": ["0.0.0.0/0"], "expr": "[\"0.0.0.0/0\"]"}}

tcp(ports) := allow({"protocol": {"value": "tcp"}, "ports": {"value": ports}})

test_ssh_from_world_denied if {
	some r in firewall.deny with input as {"resources": [fw(world, [tcp(["22"])])]}
	r.attribute == "source_ranges"
	contains(r.msg, "port 22")
}

test_rdp_in_range_denied if {
	some r in firewall.deny with input as {"resources": [fw(world, [tcp(["3000-4000"])])]}
	contains(r.msg, "3389")
}

test_all_ports_denied if {
	count(firewall.deny) == 2 with input as {"resources": [fw(world, [allow({"protocol": {"value": "all"}})])]}
}

test_https_from_world_passes if {
	count(firewall.deny) == 0 with input as {"resources": [fw(world, [tcp(["443"])])]}
}

test_ssh_from_iap_passes if {
	count(firewall.deny) == 0 with input as {"resources": [fw({"source_ranges": {"value": ["35.235.240.0/20"], "expr": "[\"35.235.240.0/20\"]"}}, [tcp(["22"])])]}
}

test_egress_passes if {
	count(firewall.deny) == 0 with input as {"resources": [fw(object.union(world, {"direction": {"value": "EGRESS"}}), [tcp(["22"])])]}
}

test_udp_passes if {
	count(firewall.deny) == 0 with input as {"resources": [fw(world, [allow({"protocol": {"value": "udp"}, "ports": {"value": ["22"]}})])]}
}
