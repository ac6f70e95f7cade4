variable "service" {
  type        = string
  description = "Service id (microservices/<service>/<env>)."
}

variable "env" {
  type        = string
  description = "Environment (microservices/<service>/<env>)."
}

variable "owner" {
  type        = string
  description = "Owning team, for the owner label (lower-case, e.g. team-orders)."
}

variable "team_group" {
  type        = string
  description = "Google group of the team, given edit rights in the service's namespace."
}

variable "billing_account" {
  type        = string
  description = "Billing account of the project."
}

variable "folder_id" {
  type        = string
  description = "Folder of the project (the environment's folder)."
}

variable "workload_identity_pool" {
  type        = string
  description = "<platform-project>.svc.id.goog of the GKE clusters."
}

variable "state_bucket" {
  type        = string
  description = "TFPR_STATE_BUCKET."
}

variable "state_prefix" {
  type        = string
  description = "This project's state prefix as tfpr computes it, e.g. acme/microservices-terraform/microservices/orders/dev."
}

variable "executor" {
  type        = string
  description = "\"token-creator\" or \"kubernetes-job\" (see service-accounts)."
  default     = "token-creator"
}

variable "tfpr_service_account" {
  type        = string
  description = "tfpr's own account, for executor = \"token-creator\"."
  default     = ""
}

variable "app_roles" {
  type        = list(string)
  description = "Roles of the application's account in its project."
  default     = ["roles/spanner.databaseUser"]
}

variable "spanner_processing_units" {
  type        = number
  description = "Spanner capacity (100 = a tenth of a node)."
  default     = 100
}
