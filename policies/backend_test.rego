package tfpr.hcl.backend_test

import data.tfpr.hcl.backend

gcs(attrs) := {"type": "gcs", "name": "gcs", "address": "terraform.backend", "attributes": attrs, "blocks": []}

test_partial_gcs_passes if {
	count(backend.deny) == 0 with input as {"backend": gcs({}), "terraform": {"cloud": null}}
}

test_bucket_and_prefix_denied if {
	results := backend.deny with input as {"backend": gcs({"bucket": {"value": "x"}, "prefix": {"value": "y"}}), "terraform": {"cloud": null}}
	{r.attribute | some r in results} == {"bucket", "prefix"}
}

test_credentials_denied if {
	some r in backend.deny with input as {"backend": gcs({"credentials": {"expr": "file(\"key.json\")"}}), "terraform": {"cloud": null}}
	r.attribute == "credentials"
}

test_other_backend_denied if {
	some r in backend.deny with input as {"backend": {"type": "s3", "attributes": {}, "blocks": []}, "terraform": {"cloud": null}}
	contains(r.msg, "s3")
}

test_cloud_block_denied if {
	some r in backend.deny with input as {"backend": null, "terraform": {"cloud": {"type": "cloud"}}}
	r.address == "terraform.cloud"
}
