output "namespace" {
  description = "The namespace, <service>-<env>."
  value       = local.name
}

output "manifests" {
  description = "File name to YAML manifest, in apply order by name."
  value       = local.manifests
}

output "objects" {
  description = "The same objects as maps, for kubernetes_manifest in a root that allows the kubernetes provider."
  value       = [local.namespace, local.resource_quota, local.network_policy, local.team_binding, local.service_account]
}
