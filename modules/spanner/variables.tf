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

variable "config" {
  type        = string
  description = "Instance configuration (region or multi-region), e.g. regional-europe-west1."
  default     = "regional-europe-west1"
}

variable "processing_units" {
  type        = number
  description = "Compute capacity; 100 is the smallest, 1000 is one node."
  default     = 100

  validation {
    condition     = var.processing_units >= 100 && (var.processing_units < 1000 ? var.processing_units % 100 == 0 : var.processing_units % 1000 == 0)
    error_message = "processing_units must be a multiple of 100 below 1000, or of 1000 from there."
  }
}

variable "database" {
  type        = string
  description = "Database name; default the service id with hyphens as underscores."
  default     = ""
}

variable "ddl" {
  type        = list(string)
  description = "Schema statements applied at creation (later changes belong in the service's migrations)."
  default     = []
}

variable "version_retention_period" {
  type        = string
  description = "How far back point-in-time recovery reaches."
  default     = "7d"
}
