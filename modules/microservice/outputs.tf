output "project_id" {
  description = "<service>-<env>."
  value       = module.project.project_id
}

output "app_email" {
  description = "The application's Google service account."
  value       = module.accounts.app_email
}

output "apply_email" {
  description = "tf-<service>-<env>, which tfpr applies as."
  value       = module.accounts.apply_email
}

output "plan_email" {
  description = "tf-ro-<service>-<env>, which tfpr plans as."
  value       = module.accounts.plan_email
}

output "namespace" {
  description = "The Kubernetes namespace."
  value       = module.namespace.namespace
}

output "manifests" {
  description = "The namespace's manifests (file name to YAML)."
  value       = module.namespace.manifests
}

output "database_id" {
  description = "The Spanner database, projects/<project>/instances/<instance>/databases/<db>."
  value       = module.database.database_id
}
