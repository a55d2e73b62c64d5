variable "environment" {
  description = "development, staging or production; apply it in the Terraform workspace of that name."
  type        = string
  validation {
    condition     = contains(["development", "staging", "production"], var.environment)
    error_message = "environment is development, staging or production."
  }
}

variable "do_token" {
  description = "DigitalOcean API token (TF_VAR_do_token); never committed."
  type        = string
  sensitive   = true
}

variable "image" {
  description = "The platform's image, built from the repository's Dockerfile (TF_VAR_image)."
  type        = string
}

variable "cluster" {
  description = "Size of the environment's Kubernetes cluster and managed PostgreSQL."
  type = object({
    region         = optional(string, "fra1")
    node_size      = optional(string, "s-2vcpu-4gb")
    min_nodes      = optional(number, 1)
    max_nodes      = optional(number, 3)
    database_size  = optional(string, "db-s-1vcpu-1gb")
    database_nodes = optional(number, 1)
  })
  default = {}
}

variable "platform" {
  description = "How the platform runs on the cluster (see modules/platform for each field)."
  type = object({
    api_replicas = optional(number, 1)
    worker_replicas = optional(map(number), {
      sms            = 1
      orders         = 1
      billing        = 1
      lending        = 1
      reimbursements = 1
      projections    = 1
      relay          = 1
      ingester       = 1
    })
    simulators          = optional(bool, false)
    load_reference_data = optional(bool, false)
    settings            = optional(map(string), {})
    monitoring          = optional(bool, true)
  })
  default = {}
}

variable "authentication" {
  description = "The identity provider whose tokens the API accepts (LEDGERFLOW_AUTH_*): its issuer (`iss`), its JWKS, and where roles and scopes sit in its tokens (Keycloak: roles_claim = \"realm_access.roles\"). Per environment, in an untracked *.auto.tfvars or TF_VAR_authentication."
  type = object({
    issuer      = string
    jwks_url    = string
    audience    = optional(string, "ledgerflow")
    roles_claim = optional(string, "roles")
    scope_claim = optional(string, "scope")
  })
}

variable "third_party_urls" {
  description = "Each third party's real URL by simulator name, where the platform runs no simulators."
  type        = map(string)
  default     = {}
}

variable "amqp_url" {
  description = "AMQP_URL of a RabbitMQ for the command queues and the event bus; null: both on PostgreSQL."
  type        = string
  default     = null
  sensitive   = true
}

variable "secrets" {
  description = "Secret settings beyond DATABASE_URL, e.g. LEDGERFLOW_REIMBURSEMENTS_SMTP_PASSWORD."
  type        = map(string)
  default     = {}
  sensitive   = true
}
