terraform {
  backend "gcs" {}
}

module "assets" {
  source = "../../../modules/bucket"
  name   = "alpha-dev-assets"
}
