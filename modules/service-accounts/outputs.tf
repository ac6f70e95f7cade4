output "app_email" {
  description = "The application's account; annotate its KSA with iam.gke.io/gcp-service-account = this."
  value       = google_service_account.app.email
}

output "apply_email" {
  description = "tf-<service>-<env>: tfpr's TFPR_IMPERSONATE_TEMPLATE resolves to this."
  value       = google_service_account.runner["apply"].email
}

output "plan_email" {
  description = "tf-ro-<service>-<env>: tfpr's TFPR_PLAN_IMPERSONATE_TEMPLATE resolves to this."
  value       = google_service_account.runner["plan"].email
}
