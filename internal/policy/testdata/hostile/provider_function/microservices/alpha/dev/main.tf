terraform {
  backend "gcs" {}
}

output "x" {
  value = provider::google::region_from_zone("europe-west1-b")
}
