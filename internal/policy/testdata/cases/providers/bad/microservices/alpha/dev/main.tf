terraform {
  backend "gcs" {}
  required_providers {
    google = {
      source = "hashicorp/google"
    }
    aws = { # expect: TFPR002
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

resource "kubernetes_namespace" "ns" { # expect: TFPR002
  metadata {
    name = "alpha"
  }
}
