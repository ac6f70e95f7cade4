package tfpr.hcl.external_data_test

import data.tfpr.hcl.external_data

test_external_data_denied if {
	results := external_data.deny with input as {"data": [
		{"type": "external", "name": "x", "address": "data.external.x", "module": ""},
		{"type": "google_project", "name": "p", "address": "data.google_project.p", "module": ""},
	]}
	count(results) == 1
	some r in results
	r.address == "data.external.x"
	r.module == ""
}

test_external_data_in_module_denied if {
	some r in external_data.deny with input as {"data": [{"type": "external", "name": "y", "address": "data.external.y", "module": "modules/db"}]}
	r.module == "modules/db"
}

test_other_data_allowed if {
	count(external_data.deny) == 0 with input as {"data": [{"type": "google_project", "name": "p", "address": "data.google_project.p", "module": ""}]}
}
