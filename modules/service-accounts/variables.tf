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

variable "executor" {
  type        = string
  description = <<-EOT
    How tfpr runs terraform as the runner accounts: "token-creator" (tfpr's
    own account mints their tokens: roles/iam.serviceAccountTokenCreator for
    tfpr_service_account) or "kubernetes-job" (each run is a Kubernetes Job
    whose KSA tf-<service>-<env> / tf-ro-<service>-<env> in run_namespace is
    bound to the account by Workload Identity).
  EOT
  default     = "token-creator"

  validation {
    condition     = contains(["token-creator", "kubernetes-job"], var.executor)
    error_message = "executor must be \"token-creator\" or \"kubernetes-job\"."
  }
}

variable "tfpr_service_account" {
  type        = string
  description = "Email of the account the tfpr server runs as (executor = \"token-creator\")."
  default     = ""
}

variable "workload_identity_pool" {
  type        = string
  description = "Workload Identity pool of the GKE clusters, <platform-project>.svc.id.goog (the application's KSA, and executor = \"kubernetes-job\")."
}

variable "run_namespace" {
  type        = string
  description = "Namespace tfpr's terraform Jobs run in (executor = \"kubernetes-job\")."
  default     = "tfpr-runs"
}

variable "app_namespace" {
  type        = string
  description = "Namespace of the application; default <service>-<env>, as k8s-namespace names it."
  default     = ""
}

variable "app_ksa" {
  type        = string
  description = "Kubernetes service account the application's pods run as."
  default     = "app"
}

variable "app_roles" {
  type        = list(string)
  description = "Roles of the application's account in its project, e.g. [\"roles/spanner.databaseUser\"]."
  default     = []

  validation {
    condition     = alltrue([for r in var.app_roles : !contains(["roles/owner", "roles/editor", "roles/viewer"], r)])
    error_message = "app_roles may not hold primitive roles (roles/owner, roles/editor, roles/viewer)."
  }
}

variable "apply_roles" {
  type        = list(string)
  description = "Roles of tf-<service>-<env> (applies) in the service's project: what the service's Terraform manages, nothing else."
  default = [
    "roles/iam.serviceAccountAdmin",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/spanner.admin",
    "roles/storage.admin",
    "roles/pubsub.admin",
  ]

  validation {
    condition     = alltrue([for r in var.apply_roles : !contains(["roles/owner", "roles/editor", "roles/viewer"], r)])
    error_message = "apply_roles may not hold primitive roles (roles/owner, roles/editor, roles/viewer)."
  }
}

variable "plan_roles" {
  type        = list(string)
  description = "Read-only roles of tf-ro-<service>-<env> (plans, drift checks) in the service's project."
  default = [
    "roles/browser",
    "roles/iam.securityReviewer",
    "roles/iam.serviceAccountViewer",
    "roles/serviceusage.serviceUsageViewer",
    "roles/spanner.viewer",
    "roles/storage.bucketViewer",
    "roles/pubsub.viewer",
  ]

  validation {
    condition     = alltrue([for r in var.plan_roles : !contains(["roles/owner", "roles/editor", "roles/viewer"], r)])
    error_message = "plan_roles may not hold primitive roles (roles/owner, roles/editor, roles/viewer)."
  }
}

variable "state_bucket" {
  type        = string
  description = "Bucket holding Terraform state (TFPR_STATE_BUCKET)."
}

variable "state_prefix" {
  type        = string
  description = "Object prefix of this service's state for this env, as tfpr computes it (TFPR_STATE_PREFIX_TEMPLATE, by default <owner>/<repo>/microservices/<service>/<env>), without a trailing slash."

  validation {
    condition     = var.state_prefix != "" && !endswith(var.state_prefix, "/")
    error_message = "state_prefix must be set, without a trailing slash."
  }
}
