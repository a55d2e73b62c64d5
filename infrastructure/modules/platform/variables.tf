# Every input is given by the root module (infrastructure/variables.tf holds the defaults).

variable "environment" {
  description = "development, staging or production: the namespace is ledgerflow-<environment>."
  type        = string
}

variable "image" {
  description = "The platform's image (the repository's Dockerfile)."
  type        = string
}

variable "database_url" {
  description = "DATABASE_URL of the event store and read models."
  type        = string
  sensitive   = true
}

variable "amqp_url" {
  description = "AMQP_URL of a RabbitMQ for the command queues and the event bus; null: both on PostgreSQL."
  type        = string
  sensitive   = true
}

variable "api_replicas" {
  description = "API processes behind the load balancer (they share nothing but the database)."
  type        = number
}

variable "worker_replicas" {
  description = "Processes per worker. Followers elect one leader among them; the work engine shares due work."
  type        = map(number)
}

variable "simulators" {
  description = "Run every third party's simulator in the cluster; false: third_party_urls."
  type        = bool
}

variable "authentication" {
  description = "The identity provider whose tokens the API accepts: LEDGERFLOW_AUTH_ISSUER, _JWKS_URL, _AUDIENCE, _ROLES_CLAIM, _SCOPE_CLAIM."
  type = object({
    issuer      = string
    jwks_url    = string
    audience    = optional(string, "ledgerflow")
    roles_claim = optional(string, "roles")
    scope_claim = optional(string, "scope")
  })
}

variable "third_party_urls" {
  description = "Each third party's URL by simulator name, when simulators is false."
  type        = map(string)
}

variable "load_reference_data" {
  description = "Load the reference data sets (antaeus, demo-banks) once, by a Kubernetes job each."
  type        = bool
}

variable "settings" {
  description = "Further LEDGERFLOW_* settings (README, Configuration), e.g. LEDGERFLOW_BILLING_TIMEZONE."
  type        = map(string)
}

variable "secrets" {
  description = "Further secret settings, e.g. LEDGERFLOW_REIMBURSEMENTS_SMTP_PASSWORD."
  type        = map(string)
  sensitive   = true
}

variable "monitoring" {
  description = "Put the Grafana dashboard (labelled for Grafana's dashboard sidecar) and the Prometheus scrape job in config maps of the namespace; false: neither."
  type        = bool
}
