terraform {
  backend "gcs" {}
}

resource "google_project_iam_member" "ci" {
  project = "alpha-dev"
  role    = "roles/run.developer"
  member  = "serviceAccount:ci@alpha-dev.iam.gserviceaccount.com"
}
