terraform {
  backend "gcs" {}
}

resource "google_bigquery_dataset" "raw" {
  dataset_id = "raw"
  labels = {
    service = "alpha"
    env     = "dev"
    owner   = "data"
  }
}
