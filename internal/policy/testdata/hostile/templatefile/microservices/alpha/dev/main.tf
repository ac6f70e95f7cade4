terraform {
  backend "gcs" {}
}

output "x" {
  value = templatefile("${path.module}/t.tpl", {})
}
