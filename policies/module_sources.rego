# METADATA
# title: module source not allowed
# description: >-
#   Modules are code that runs with the project's credentials. They must be
#   local (./ or ../) or come from an allowlisted registry namespace
#   (data.tfpr.params.allowed_module_namespaces, entries "ns" for the public
#   registry or "host/ns"), pinned to an exact version.
# custom:
#   id: TFPR003
#   severity: deny
#   scope: module
package tfpr.hcl.module_sources

import data.tfpr.lib

registry_part := `^[0-9A-Za-z][0-9A-Za-z_-]*$`

exact_version := `^=?\s*v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`

# A registry address: [host/]namespace/name/provider[//subdir].
namespace(source) := ns if {
	addr := split(source, "//")[0]
	parts := split(addr, "/")
	count(parts) == 3
	every p in parts {
		regex.match(registry_part, p)
	}
	ns := parts[0]
}

namespace(source) := ns if {
	addr := split(source, "//")[0]
	parts := split(addr, "/")
	count(parts) == 4
	every p in array.slice(parts, 1, 4) {
		regex.match(registry_part, p)
	}
	host := lower(parts[0])
	ns := registry_namespace(host, parts[1])
}

registry_namespace(host, ns) := ns if host == "registry.terraform.io"

registry_namespace(host, ns) := concat("/", [host, ns]) if host != "registry.terraform.io"

allowed_namespace(ns) if ns in data.tfpr.params.allowed_module_namespaces

deny contains object.union(lib.at_attr(m, "source"), {"msg": msg}) if {
	some m in input.modules
	m.source == ""
	msg := sprintf("%s: module source must be a literal string", [m.address])
}

deny contains object.union(lib.at_attr(m, "source"), {"msg": msg}) if {
	some m in input.modules
	not m.local
	m.source != ""
	not namespace(m.source)
	msg := sprintf("%s: source %q is neither local (./, ../) nor a registry module", [m.address, m.source])
}

deny contains object.union(lib.at_attr(m, "source"), {"msg": msg}) if {
	some m in input.modules
	not m.local
	ns := namespace(m.source)
	not allowed_namespace(ns)
	msg := sprintf("%s: registry namespace %q is not allowed (allowed: %s)", [m.address, ns, concat(", ", data.tfpr.params.allowed_module_namespaces)])
}

deny contains object.union(lib.at_attr(m, attr), {"msg": msg}) if {
	some m in input.modules
	not m.local
	ns := namespace(m.source)
	allowed_namespace(ns)
	not regex.match(exact_version, m.version)
	attr := version_attr(m)
	msg := sprintf("%s: registry module %s must pin an exact version (version = \"1.2.3\"), got %q", [m.address, m.source, m.version])
}

version_attr(m) := "version" if m.attributes.version

version_attr(m) := "source" if not m.attributes.version
