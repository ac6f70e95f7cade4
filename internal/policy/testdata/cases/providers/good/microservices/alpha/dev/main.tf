terraform {
  backend "gcs" {}
  required_providers {
    google = {
      source  = "registry.terraform.io/hashicorp/google"
      version = "~> 6.0"
    }
    random = {
      source = "hashicorp/random"
    }
  }
}

resource "random_id" "suffix" {
  byte_length = 4
}

resource "terraform_data" "marker" {
  input = random_id.suffix.hex
}
