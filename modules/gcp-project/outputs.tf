output "project_id" {
  description = "The project id, <service>-<env>."
  value       = google_project.this.project_id

  # Callers create resources in the project through this output, so they
  # wait for the APIs those resources need.
  depends_on = [google_project_service.apis]
}

output "number" {
  description = "The project number."
  value       = google_project.this.number
}

output "labels" {
  description = "The labels every resource of the service should carry."
  value       = local.labels
}

output "apis" {
  description = "The enabled APIs, for depends_on in callers."
  value       = [for s in google_project_service.apis : s.service]
}
