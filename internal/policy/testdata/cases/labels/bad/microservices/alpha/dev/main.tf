terraform {
  backend "gcs" {}
}

resource "google_bigquery_dataset" "raw" { # expect: TFPR006
  dataset_id = "raw"
}

resource "google_pubsub_topic" "events" {
  name = "events"
  labels = { # expect: TFPR006
    service = "alpha"
    env     = "dev"
  }
}
