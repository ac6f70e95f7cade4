terraform {
  backend "gcs" {}
}

output "x" {
  value = fileset("${path.module}/.", "../../../../../../../../../../../../etc/host*")
}
