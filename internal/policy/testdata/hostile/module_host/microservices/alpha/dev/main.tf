terraform {
  backend "gcs" {}
}

module "m" {
  source = "/tmp/tfpr-module"
}

module "n" {
  source = "git::file:///tmp/tfpr-repo"
}
