package tfpr.hcl.service_account_key_test

import data.tfpr.hcl.service_account_key

test_key_denied if {
	some r in service_account_key.deny with input as {"resources": [{"type": "google_service_account_key", "name": "k", "address": "google_service_account_key.k", "module": ""}]}
	r.address == "google_service_account_key.k"
}

test_service_account_passes if {
	count(service_account_key.deny) == 0 with input as {"resources": [{"type": "google_service_account", "name": "sa", "address": "google_service_account.sa", "module": ""}]}
}
