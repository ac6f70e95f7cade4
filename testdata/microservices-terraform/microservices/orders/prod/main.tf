terraform {
  backend "gcs" {}
}

module "base" {
  source = "../../../modules/service-base"

  service = "orders"
  env     = "prod"
  owner   = "team-orders"
}

resource "terraform_data" "queue" {
  input = "${module.base.project}-orders-queue"
}

output "runner" {
  value = module.base.runner
}
