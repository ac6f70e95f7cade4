terraform {
  backend "gcs" {}
}

resource "google_project_iam_binding" "admins" { # expect: TFPR009
  project = "alpha-dev"
  role    = "roles/cloudsql.admin"
  members = ["group:alpha-admins@acme.com"]
}
