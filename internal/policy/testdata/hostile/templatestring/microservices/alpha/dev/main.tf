terraform {
  backend "gcs" {}
}

variable "tpl" {
  type = string
}

output "x" {
  value = templatestring(var.tpl, {})
}
