terraform {
  backend "gcs" {}
}

provider "google" {
  project = "alpha-dev"
  region  = "europe-west1"
  default_labels = {
    service = "alpha"
  }
}

data "terraform_remote_state" "network" {
  backend = "gcs"
  config = {
    bucket = var.state_bucket
    prefix = "microservices/network/dev"
  }
}

variable "state_bucket" {
  type = string
}
