terraform {
  backend "gcs" {}
}

module "base" {
  source = "../../../modules/service-base"

  service = "payments"
  env     = "prod"
  owner   = "team-payments"
}

resource "terraform_data" "ledger" {
  input = {
    name   = "${module.base.project}-ledger"
    labels = module.base.labels
  }
}

output "runner" {
  value = module.base.runner
}
