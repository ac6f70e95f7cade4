terraform {
  backend "gcs" {}
}

resource "terraform_data" "run" {
  input = "x"
  lifecycle {
    create_before_destroy = true
  }
}
