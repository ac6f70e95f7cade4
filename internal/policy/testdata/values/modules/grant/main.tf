variable "project" {
  type = string
}

variable "role" {
  type = string
}

resource "google_project_iam_member" "m" {
  project = var.project
  role    = var.role # expect-warn: TFPR010
  member  = "group:eng@acme.com"
}
