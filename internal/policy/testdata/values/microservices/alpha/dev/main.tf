# Every deny below is written through indirection that lint evaluates as
# terraform would. "expect: RULE" marks where that deny must land,
# "expect-warn: RULE" a warning that the value is checked at plan.
terraform {
  backend "gcs" {}
}

locals {
  everyone   = "allUsers"
  role       = "roles/owner"
  world      = ["0.0.0.0/0"]
  owner_word = "EDITOR"
  # A local built from a local through functions.
  admin   = lower(format("roles/%s", local.owner_word))
  project = "alpha-dev"
  wrong   = join("-", ["beta", "dev"])
  ubla    = var.strict ? true : false
  readers = toset(["group:eng@acme.com", local.everyone])
}

variable "ubla" {
  default = false
}

variable "strict" {
  type    = bool
  default = false
}

variable "reader" {
  type = string
}

variable "ssh_ranges" {
  type = list(string)
}

variable "bucket_ubla" {
  type = bool
}

variable "other_project" {
  default = "gamma-prod"
}

resource "google_storage_bucket" "d" {
  name                        = "d"
  project                     = local.project
  location                    = "EU"
  uniform_bucket_level_access = var.ubla # expect: TFPR008
  labels                      = { service = "alpha", env = "dev", owner = "team" }
}

resource "google_storage_bucket" "tfvars" {
  name                        = "t"
  project                     = local.project
  location                    = "EU"
  uniform_bucket_level_access = var.bucket_ubla # expect: TFPR008
  labels                      = { service = "alpha", env = "dev", owner = "team" }
}

resource "google_storage_bucket" "cond" {
  name                        = "c"
  project                     = local.project
  location                    = "EU"
  uniform_bucket_level_access = local.ubla # expect: TFPR008
  labels                      = { service = "alpha", env = "dev", owner = "team" }
}

resource "google_storage_bucket_iam_member" "p" {
  bucket = google_storage_bucket.d.name
  role   = "roles/storage.objectViewer"
  member = local.everyone # expect: TFPR007
}

resource "google_storage_bucket_iam_member" "tfvars" {
  bucket = google_storage_bucket.d.name
  role   = "roles/storage.objectViewer"
  member = var.reader # expect: TFPR007
}

resource "google_storage_bucket_iam_member" "each" {
  for_each = local.readers
  bucket   = google_storage_bucket.d.name
  role     = "roles/storage.objectViewer"
  member   = each.value # expect: TFPR007
}

resource "google_storage_bucket_iam_member" "computed" {
  bucket = google_storage_bucket.d.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_storage_bucket.d.name}@acme.iam.gserviceaccount.com" # expect-warn: TFPR007
}

resource "google_project_iam_member" "o" {
  project = local.project
  role    = local.role # expect: TFPR010
  member  = "group:eng@acme.com"
}

resource "google_project_iam_member" "fn" {
  project = local.project
  role    = local.admin # expect: TFPR010
  member  = "group:eng@acme.com"
}

resource "google_project_iam_member" "counted" {
  count   = 2
  project = local.project
  role    = ["roles/browser", "roles/viewer"][count.index] # expect: TFPR010
  member  = "group:eng@acme.com"
}

resource "google_project_iam_member" "elsewhere" {
  project = var.other_project # expect: TFPR005
  role    = "roles/browser"
  member  = "group:eng@acme.com"
}

resource "google_project_iam_member" "joined" {
  project = local.wrong # expect: TFPR005
  role    = "roles/browser"
  member  = "group:eng@acme.com"
}

data "google_iam_policy" "admins" {
  dynamic "binding" {
    for_each = { owners = local.role }
    content {
      role    = binding.value # expect: TFPR010
      members = ["group:eng@acme.com"]
    }
  }
}

resource "google_compute_firewall" "f" {
  name          = "f"
  network       = "default"
  project       = local.project
  source_ranges = local.world # expect: TFPR012
  dynamic "allow" {
    for_each = [22, 3389]
    content {
      protocol = "tcp"
      ports    = [allow.value]
    }
  }
}

resource "google_compute_firewall" "tfvars" {
  name          = "t"
  network       = "default"
  project       = local.project
  source_ranges = var.ssh_ranges # expect: TFPR012
  allow {
    protocol = "tcp"
    ports    = ["20-30"]
  }
}

module "grant" {
  source  = "../../../modules/grant"
  project = local.project
  role    = "roles/owner"
}
