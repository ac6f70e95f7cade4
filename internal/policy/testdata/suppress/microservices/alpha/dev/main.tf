terraform {
  backend "gcs" {}
}

# tfpr:ignore TFPR001,TFPR002 vetted: prints a static JSON document
data "external" "static" {
  program = ["echo", "{}"]
}

data "external" "noreason" { # tfpr:ignore TFPR001
  program = ["id"]
}

resource "google_pubsub_topic" "t" {
  name    = "t"
  project = "other-prod" // tfpr:ignore TFPR005 shared topic, approved in SEC-42
  labels  = { service = "alpha", env = "dev", owner = "team-alpha" }
}

locals {
  note = "# tfpr:ignore TFPR001 inside a string suppresses nothing"
}
