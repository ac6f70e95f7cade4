terraform {
  backend "gcs" {}
}

resource "google_project_iam_member" "admins" {
  project = "alpha-dev"
  role    = "roles/cloudsql.admin"
  member  = "group:alpha-admins@acme.com"
}
