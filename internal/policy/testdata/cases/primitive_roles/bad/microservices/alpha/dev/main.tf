terraform {
  backend "gcs" {}
}

resource "google_project_iam_member" "ci" {
  project = "alpha-dev"
  role    = "roles/editor" # expect: TFPR010
  member  = "serviceAccount:ci@alpha-dev.iam.gserviceaccount.com"
}

data "google_iam_policy" "topic" {
  binding {
    role    = "roles/owner" # expect: TFPR010
    members = ["group:alpha@acme.com"]
  }
}
