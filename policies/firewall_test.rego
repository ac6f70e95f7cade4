package tfpr.hcl.firewall_test

import data.tfpr.hcl.firewall
import data.tfpr.lib_test as t

fw(values) := t.block("google_compute_firewall", values, {})

world := {"source_ranges": ["0.0.0.0/0"]}

tcp(ports) := {"protocol": "tcp", "ports": ports}

with_allow(values, allows) := object.union(values, {"allow": allows})

test_ssh_from_world_denied_at_both_stages if {
	values := with_allow(world, [tcp(["22"])])
	some r in firewall.deny with input as t.hcl([fw(values)])
	r.attribute == "source_ranges"
	contains(r.msg, "port 22")
	some p in firewall.deny with input as t.plan([t.change("google_compute_firewall", object.union(values, {"direction": "INGRESS"}), {})])
	contains(p.msg, "port 22")
}

test_rdp_in_range_denied if {
	some r in firewall.deny with input as t.hcl([fw(with_allow(world, [tcp(["3000-4000"])]))])
	contains(r.msg, "3389")
}

test_all_ports_denied if {
	count(firewall.deny) == 2 with input as t.hcl([fw(with_allow(world, [{"protocol": "all"}]))])
	# The plan prints a rule without ports as an empty list.
	count(firewall.deny) == 2 with input as t.plan([t.change("google_compute_firewall", with_allow(world, [{"protocol": "all", "ports": []}]), {})])
}

test_ipv6_world_denied if {
	count(firewall.deny) == 1 with input as t.hcl([fw(with_allow({"source_ranges": ["10.0.0.0/8", "::/0"]}, [tcp(["22"])]))])
}

test_https_from_world_passes if {
	count(firewall.deny) == 0 with input as t.hcl([fw(with_allow(world, [tcp(["443"])]))])
}

test_ssh_from_iap_passes if {
	count(firewall.deny) == 0 with input as t.hcl([fw(with_allow({"source_ranges": ["35.235.240.0/20"]}, [tcp(["22"])]))])
}

test_egress_passes if {
	count(firewall.deny) == 0 with input as t.hcl([fw(with_allow(object.union(world, {"direction": "EGRESS"}), [tcp(["22"])]))])
}

test_udp_passes if {
	count(firewall.deny) == 0 with input as t.hcl([fw(with_allow(world, [{"protocol": "udp", "ports": ["22"]}]))])
}

test_unknown_ranges_warn if {
	b := t.block("google_compute_firewall", {"allow": [tcp(["22"])]}, {"source_ranges": true})
	count(firewall.deny) == 0 with input as t.hcl([b])
	some r in firewall.warn with input as t.hcl([b])
	r.attribute == "source_ranges"
}

test_unknown_ports_warn_not_deny if {
	b := t.block("google_compute_firewall", with_allow(world, [{"protocol": "tcp"}]), {"allow": [{"ports": true}]})
	count(firewall.deny) == 0 with input as t.hcl([b])
	some r in firewall.warn with input as t.hcl([b])
	r.attribute == "allow"
}

test_unknown_allow_blocks_warn if {
	b := t.block("google_compute_firewall", with_allow(world, []), {"allow": true})
	count(firewall.warn) == 1 with input as t.hcl([b])
}
