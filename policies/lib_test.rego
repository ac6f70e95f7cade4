# Helpers for the policy tests, and tests of the normalized resource shape
# in lib.rego.
package tfpr.lib_test

import data.tfpr.lib

# An HCL-stage block of type t with one instance, which tfpr gives the
# normalized shape.
block(t, values, unknown) := {
	"type": t, "name": "x", "address": sprintf("%s.x", [t]), "module": "",
	"attributes": {}, "blocks": [],
	"instances": [instance(t, values, unknown)],
}

instance(t, values, unknown) := {
	"type": t, "name": "x", "address": sprintf("%s.x", [t]), "module": "",
	"values": values, "unknown": unknown,
}

hcl(resources) := {"resources": resources, "data": []}

hcl_data(blocks) := {"resources": [], "data": blocks}

# A plan-stage resource change, as `terraform show -json` prints it.
change(t, after, after_unknown) := {
	"address": sprintf("%s.x", [t]), "mode": "managed", "type": t, "name": "x",
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": after_unknown},
}

plan(changes) := {"format_version": "1.2", "resource_changes": changes}

test_hcl_instances_normalized if {
	b := block("google_storage_bucket", {"name": "a"}, {"labels": true})
	rs := lib.resources("google_storage_bucket") with input as hcl([b])
	rs == [{
		"type": "google_storage_bucket", "name": "x", "address": "google_storage_bucket.x", "module": "",
		"values": {"name": "a"}, "unknown": {"labels": true},
	}]
	lib.resource_types == {"google_storage_bucket"} with input as hcl([b])
	lib.all_resources == rs with input as hcl([b])
}

test_one_entry_per_instance if {
	b := object.union(block("google_project_iam_member", {}, {}), {"instances": [
		instance("google_project_iam_member", {"role": "roles/browser"}, {}),
		instance("google_project_iam_member", {"role": "roles/owner"}, {}),
	]})
	rs := lib.resources("google_project_iam_member") with input as hcl([b])
	[r.values.role | some r in rs] == ["roles/browser", "roles/owner"]
}

test_plan_changes_normalized if {
	rc := change("google_storage_bucket", {"name": "a"}, {"labels": true})
	deleted := object.union(change("google_storage_bucket", null, {}), {"address": "google_storage_bucket.gone"})
	rs := lib.resources("google_storage_bucket") with input as plan([rc, deleted])
	rs == [{
		"type": "google_storage_bucket", "name": "x", "address": "google_storage_bucket.x", "module": "",
		"values": {"name": "a"}, "unknown": {"labels": true},
	}]
	lib.is_plan with input as plan([rc])
	not lib.is_plan with input as hcl([])
}

test_plan_data_sources_from_state_and_changes if {
	p := {
		"format_version": "1.2",
		"resource_changes": [object.union(change("google_iam_policy", {"binding": []}, {}), {"mode": "data", "address": "data.google_iam_policy.deferred"})],
		"prior_state": {"values": {"root_module": {
			"resources": [{"address": "data.google_iam_policy.root", "mode": "data", "type": "google_iam_policy", "name": "root", "values": {"binding": []}}],
			"child_modules": [{"address": "module.m", "resources": [
				{"address": "module.m.data.google_iam_policy.inner", "mode": "data", "type": "google_iam_policy", "name": "inner", "values": {"binding": []}},
				{"address": "module.m.google_storage_bucket.b", "mode": "managed", "type": "google_storage_bucket", "name": "b", "values": {}},
			]}],
		}}},
	}
	addrs := {d.address | some d in lib.data_sources("google_iam_policy")} with input as p
	addrs == {"data.google_iam_policy.deferred", "data.google_iam_policy.root", "module.m.data.google_iam_policy.inner"}
}

test_unknown_paths if {
	r := {"unknown": {"allow": [false, {"ports": true}], "labels": true}}
	lib.unknown(r, ["allow"])
	lib.unknown(r, ["allow", 1, "ports"])
	not lib.unknown(r, ["allow", 0, "ports"])
	lib.unknown(r, ["labels", "env"])
	not lib.unknown(r, ["name"])
}

test_set_means_known_or_unknown if {
	r := {"values": {"a": false}, "unknown": {"b": true}}
	lib.set(r, "a")
	lib.set(r, "b")
	not lib.set(r, "c")
}

test_nested_attr_per_stage if {
	lib.nested_attr("binding", 2, "role") == "binding.2.role" with input as hcl([])
	lib.nested_attr("binding", 2, "role") == "binding.role" with input as plan([])
}
