terraform {
  backend "gcs" {}
}

resource "google_pubsub_topic" "events" {
  name    = "events"
  project = "other-prod" # expect: TFPR005
  labels = {
    service = "alpha"
    env     = "dev"
    owner   = "team-alpha"
  }
}
