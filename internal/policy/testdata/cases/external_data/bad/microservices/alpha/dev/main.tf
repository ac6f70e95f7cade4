terraform {
  backend "gcs" {}
}

data "external" "whoami" { # expect: TFPR001
  program = ["sh", "-c", "id"]
}

module "tools" {
  source = "../../../modules/tools"
}
