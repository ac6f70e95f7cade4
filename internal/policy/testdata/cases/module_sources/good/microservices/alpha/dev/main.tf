terraform {
  backend "gcs" {}
}

module "db" {
  source = "../../../modules/db"
}

module "network" {
  source  = "acme/network/google"
  version = "1.2.3"
}
