package tfpr.plan.max_destroy_test

import data.tfpr.plan.max_destroy

deletes(n) := [{"address": sprintf("terraform_data.d[%d]", [i]), "mode": "managed", "change": {"actions": ["delete"]}} | some i in numbers.range(1, n)]

test_default_limit if {
	count(max_destroy.deny) == 0 with input as {"resource_changes": deletes(20)}
	count(max_destroy.deny) == 1 with input as {"resource_changes": deletes(21)}
}

test_limit_param if {
	count(max_destroy.deny) == 1 with input as {"resource_changes": deletes(3)} with data.tfpr.params.max_destroy as 2
}

test_creates_not_counted if {
	creates := [{"address": sprintf("x.c[%d]", [i]), "mode": "managed", "change": {"actions": ["create"]}} | some i in numbers.range(1, 30)]
	count(max_destroy.deny) == 0 with input as {"resource_changes": creates}
}
