terraform {
  backend "gcs" {}
}

module "m" {
  source = "../../../../../../../../../../../../tmp/tfpr-module"
}
