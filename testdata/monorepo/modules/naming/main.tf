variable "service" {
  type = string
}

variable "env" {
  type = string
}

output "prefix" {
  value = "${var.service}-${var.env}"
}
