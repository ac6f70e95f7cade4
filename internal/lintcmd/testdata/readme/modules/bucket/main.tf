variable "name" {
  type = string
}

resource "google_storage_bucket" "this" {
  name                        = var.name
  location                    = "EU"
  uniform_bucket_level_access = true
  labels = {
    service = "alpha"
    env     = "dev"
    owner   = "platform"
  }
}
