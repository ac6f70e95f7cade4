terraform {
  backend "gcs" {}
}

output "x" {
  value = core::file("/etc/hostname")
}
