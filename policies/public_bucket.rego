# METADATA
# title: public Cloud Storage access
# description: >-
#   Cloud Storage IAM and ACL resources must not grant allUsers or
#   allAuthenticatedUsers, however the value is written (literal, local,
#   variable, .tfvars, for_each) and also when a member list is partly
#   computed. A member lint cannot know is checked at plan.
# custom:
#   id: TFPR007
#   severity: deny
#   scope: module
#   stages: [hcl, plan]
package tfpr.hcl.public_bucket

import data.tfpr.lib

# A member ("allUsers"), an ACL entity ("READER:allUsers") or a member
# inside a policy document ("\"allUsers\"").
public := `(?:^|[":])(allUsers|allAuthenticatedUsers)(?:$|")`

# The attributes that name who gets access.
member_attrs := {"member", "members", "role_entity", "entity", "policy_data"}

storage(type) if startswith(type, "google_storage_")

deny contains object.union(lib.at_attr(r, name), {"msg": msg}) if {
	some type in lib.resource_types
	storage(type)
	some r in lib.resources(type)
	some name in member_attrs
	walk(r.values[name], [_, s])
	is_string(s)
	# Every match holds "Users"; the substring test is the cheap first cut.
	contains(s, "Users")
	some m in regex.find_all_string_submatch_n(public, s, -1)
	msg := sprintf("%s grants %s access to Cloud Storage; buckets must not be public", [r.address, m[1]])
}

warn contains object.union(lib.at_attr(r, name), {"msg": lib.unknown_msg(r, name)}) if {
	not lib.is_plan
	some type in lib.resource_types
	storage(type)
	some r in lib.resources(type)
	some name in member_attrs
	lib.unknown(r, [name])
}
