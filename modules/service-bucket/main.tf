# A bucket the way the platform policies want it: in the service's own
# project, uniform bucket-level access, never public, labelled.

variable "service" {
  type        = string
  description = "Service name (microservices/<service>/<env>)."
}

variable "env" {
  type        = string
  description = "Environment (microservices/<service>/<env>)."
}

variable "owner" {
  type        = string
  description = "Owning team, for the owner label."
}

variable "name" {
  type        = string
  description = "Bucket name suffix; the bucket is <service>-<env>-<name>."
}

variable "location" {
  type    = string
  default = "EU"
}

variable "versioning" {
  type    = bool
  default = true
}

resource "google_storage_bucket" "this" {
  project                     = "${var.service}-${var.env}"
  name                        = "${var.service}-${var.env}-${var.name}"
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = var.versioning
  }

  labels = {
    service = var.service
    env     = var.env
    owner   = var.owner
  }
}

output "name" {
  value = google_storage_bucket.this.name
}

output "url" {
  value = google_storage_bucket.this.url
}
