output "instance" {
  description = "Instance name."
  value       = google_spanner_instance.this.name
}

output "database" {
  description = "Database name."
  value       = google_spanner_database.this.name
}

output "database_id" {
  description = "projects/<project>/instances/<instance>/databases/<database>, for clients."
  value       = google_spanner_database.this.id
}
