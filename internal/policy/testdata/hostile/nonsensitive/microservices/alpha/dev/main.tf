terraform {
  backend "gcs" {}
}

variable "token" {
  type      = string
  sensitive = true
}

output "x" {
  value = nonsensitive(var.token)
}
