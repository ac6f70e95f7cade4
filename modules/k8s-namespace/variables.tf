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
  description = "Owning team, for the owner label."
}

variable "team_group" {
  type        = string
  description = "Google group of the team (Google Groups for RBAC), bound to the edit ClusterRole in the namespace, e.g. gke-security-groups-orders@example.com."
}

variable "app_ksa" {
  type        = string
  description = "Kubernetes service account the application runs as."
  default     = "app"
}

variable "app_gsa_email" {
  type        = string
  description = "Google service account the app KSA acts as through Workload Identity (service-accounts' app_email); empty for none."
  default     = ""
}

variable "quota" {
  type        = map(string)
  description = "ResourceQuota hard limits."
  default = {
    "requests.cpu"           = "4"
    "requests.memory"        = "8Gi"
    "limits.cpu"             = "8"
    "limits.memory"          = "16Gi"
    "pods"                   = "50"
    "services.loadbalancers" = "0"
    "services.nodeports"     = "0"
  }
}

variable "allow_ingress_from_namespaces" {
  type        = list(string)
  description = "Namespaces whose pods may reach this one (the ingress controller's, for instance); everything else is denied."
  default     = []
}
