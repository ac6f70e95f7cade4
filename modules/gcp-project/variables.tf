variable "service" {
  type        = string
  description = "Service id (microservices/<service>/<env>)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.service))
    error_message = "service must be lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "env" {
  type        = string
  description = "Environment (microservices/<service>/<env>)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*$", var.env))
    error_message = "env must be lower-case letters and digits, starting with a letter."
  }
}

variable "owner" {
  type        = string
  description = "Owning team, for the owner label (a GCP label value: lower-case, e.g. team-orders)."
}

variable "billing_account" {
  type        = string
  description = "Billing account id the project is charged to (XXXXXX-XXXXXX-XXXXXX)."
}

variable "folder_id" {
  type        = string
  description = "Numeric id of the folder the project lives in (the environment's folder)."
}

variable "apis" {
  type        = list(string)
  description = "APIs to enable in the project."
  default = [
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "spanner.googleapis.com",
    "storage.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
  ]
}

variable "labels" {
  type        = map(string)
  description = "Extra labels; service, env and owner are always set and win."
  default     = {}
}
