terraform {
  backend "gcs" {}
}

module "deep" {
  source = "../../../modules/a/b/c/d/e/f/g/h/i"
}

output "x" {
  value = module.deep.x
}
