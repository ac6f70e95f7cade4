# tfpr's HCL-stage rules (policies/*.rego, TFPR001-TFPR012) rewritten for
# conftest's hcl2 parser input, one file at a time, so `make bench` can
# compare lint throughput on the same corpus. conftest sees one file without
# positions, the module graph or other files' required_providers, so the
# rules are as close as that input allows, not identical.
package main

allowed_providers := {
	"hashicorp/google", "hashicorp/google-beta", "hashicorp/random",
	"hashicorp/null", "hashicorp/time", "terraform.io/builtin/terraform",
}

implied_prefixes := {"google", "random", "null", "time", "terraform"}

resources contains [type, name, body] if {
	some type, named in input.resource
	some name, bodies in named
	some body in bodies
}

# TFPR001
deny contains msg if {
	some name, _ in input.data.external
	msg := sprintf("data.external.%s runs a program during terraform plan", [name])
}

# TFPR002
deny contains msg if {
	some t in input.terraform
	some rp in t.required_providers
	some name, p in rp
	src := trim_prefix(lower(p.source), "registry.terraform.io/")
	not src in allowed_providers
	msg := sprintf("provider %q (%s) is not in the allowlist", [name, p.source])
}

deny contains msg if {
	some kind in ["resource", "data"]
	some type, _ in input[kind]
	prefix := split(type, "_")[0]
	not prefix in implied_prefixes
	msg := sprintf("%s %s uses provider hashicorp/%s, which is not in the allowlist", [kind, type, prefix])
}

# TFPR003
local_source(s) if startswith(s, "./")

local_source(s) if startswith(s, "../")

deny contains msg if {
	some name, bodies in input.module
	some m in bodies
	not local_source(m.source)
	not regex.match(`^acme/[0-9A-Za-z_-]+/[0-9A-Za-z_-]+(//.*)?$`, m.source)
	msg := sprintf("module.%s: source %q is neither local nor an allowed registry module", [name, m.source])
}

deny contains msg if {
	some name, bodies in input.module
	some m in bodies
	not local_source(m.source)
	not regex.match(`^=?\s*v?[0-9]+\.[0-9]+\.[0-9]+$`, object.get(m, "version", ""))
	msg := sprintf("module.%s: registry module must pin an exact version", [name])
}

# TFPR004
deny contains msg if {
	some t in input.terraform
	some type, _ in t.backend
	type != "gcs"
	msg := sprintf("backend %q is not allowed", [type])
}

deny contains msg if {
	some t in input.terraform
	some body in t.backend.gcs
	count(body) > 0
	msg := "backend \"gcs\" must be empty"
}

deny contains "terraform { cloud {} } is not allowed" if {
	some t in input.terraform
	t.cloud
}

# TFPR005
expected_project := p if {
	parts := split(data.conftest.file.dir, "/")
	n := count(parts)
	parts[n - 3] == "microservices"
	p := sprintf("%s-%s", [parts[n - 2], parts[n - 1]])
}

project_blocks contains [addr, body] if {
	some [type, name, body] in resources
	addr := sprintf("%s.%s", [type, name])
}

project_blocks contains [addr, body] if {
	some kind in ["provider", "module"]
	some name, bodies in input[kind]
	some body in bodies
	addr := sprintf("%s.%s", [kind, name])
}

deny contains msg if {
	some [addr, body] in project_blocks
	v := body.project
	is_string(v)
	not contains(v, "${")
	v != expected_project
	msg := sprintf("%s uses GCP project %s; expected %s", [addr, v, expected_project])
}

# TFPR006
labelled := {
	"google_storage_bucket", "google_compute_instance", "google_spanner_instance",
	"google_pubsub_topic", "google_bigquery_dataset",
}

warn contains msg if {
	some [type, name, body] in resources
	type in labelled
	not body.labels
	msg := sprintf("%s.%s has no labels", [type, name])
}

warn contains msg if {
	some [type, name, body] in resources
	type in labelled
	is_object(body.labels)
	missing := [k | some k in ["service", "env", "owner"]; not body.labels[k]]
	count(missing) > 0
	msg := sprintf("%s.%s is missing labels %s", [type, name, concat(", ", missing)])
}

# TFPR007
deny contains msg if {
	some [type, name, body] in resources
	startswith(type, "google_storage_")
	walk(body, [_, v])
	is_string(v)
	regex.match(`(^|:)(allUsers|allAuthenticatedUsers)$`, v)
	msg := sprintf("%s.%s grants public access to Cloud Storage", [type, name])
}

# TFPR008
deny contains msg if {
	some [type, name, body] in resources
	type == "google_storage_bucket"
	object.get(body, "uniform_bucket_level_access", false) != true
	msg := sprintf("%s.%s must set uniform_bucket_level_access = true", [type, name])
}

# TFPR009
deny contains msg if {
	some [type, name, _] in resources
	type in {"google_project_iam_binding", "google_project_iam_policy"}
	msg := sprintf("%s.%s is authoritative for the whole project", [type, name])
}

# TFPR010
deny contains msg if {
	some [type, name, body] in resources
	regex.match(`_iam_(member|binding)$`, type)
	body.role in {"roles/owner", "roles/editor", "roles/viewer"}
	msg := sprintf("%s.%s grants primitive role %s", [type, name, body.role])
}

# TFPR011
deny contains msg if {
	some [type, name, _] in resources
	type == "google_service_account_key"
	msg := sprintf("%s.%s creates a long-lived key", [type, name])
}

# TFPR012
open_world(body) if {
	some r in body.source_ranges
	r in {"0.0.0.0/0", "::/0"}
}

exposes(allow, _) if not allow.ports

exposes(allow, port) if {
	some p in allow.ports
	sprintf("%v", [p]) == port
}

exposes(allow, port) if {
	some p in allow.ports
	regex.match(`^[0-9]+-[0-9]+$`, sprintf("%v", [p]))
	b := split(sprintf("%v", [p]), "-")
	to_number(b[0]) <= to_number(port)
	to_number(port) <= to_number(b[1])
}

deny contains msg if {
	some [type, name, body] in resources
	type == "google_compute_firewall"
	upper(object.get(body, "direction", "INGRESS")) == "INGRESS"
	open_world(body)
	some allow in body.allow
	lower(sprintf("%v", [object.get(allow, "protocol", "tcp")])) in {"tcp", "all", "6"}
	some port in ["22", "3389"]
	exposes(allow, port)
	msg := sprintf("%s.%s allows port %s from the internet", [type, name, port])
}
