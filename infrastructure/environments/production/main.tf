# The production environment: `terraform init && terraform apply` in this directory
# (see infrastructure/README.md).

terraform {
  required_version = ">= 1.6"
  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "~> 2.40"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.30"
    }
  }
}

variable "do_token" {
  description = "DigitalOcean API token (TF_VAR_do_token); never committed."
  type        = string
  sensitive   = true
}

variable "image" {
  description = "The platform's image, built from the repository's Dockerfile."
  type        = string
}

variable "third_party_urls" {
  description = "Each third party's real URL, by simulator name: sms-provider, exchange, payment-provider, bank-partner, payment-rail, mailbox."
  type        = map(string)
}

variable "secrets" {
  description = "Secret settings beyond DATABASE_URL, e.g. LEDGERFLOW_REIMBURSEMENTS_SMTP_PASSWORD."
  type        = map(string)
  default     = {}
  sensitive   = true
}

provider "digitalocean" {
  token = var.do_token
}

module "cluster" {
  source         = "../../modules/cluster"
  environment    = "production"
  node_size      = "s-4vcpu-8gb"
  min_nodes      = 3
  max_nodes      = 6
  database_size  = "db-s-2vcpu-4gb"
  database_nodes = 2
}

provider "kubernetes" {
  host                   = module.cluster.kubernetes_endpoint
  token                  = module.cluster.kubernetes_token
  cluster_ca_certificate = module.cluster.kubernetes_ca_certificate
}

module "platform" {
  source       = "../../modules/platform"
  environment  = "production"
  image        = var.image
  database_url = module.cluster.database_url
  api_replicas = 3
  worker_replicas = {
    sms            = 2
    orders         = 2
    billing        = 2
    lending        = 1
    reimbursements = 1
    projections    = 2 # one leads, one stands by
    relay          = 2
    ingester       = 2
  }
  simulators       = false
  third_party_urls = var.third_party_urls
  secrets          = var.secrets
}

output "api_address" {
  value = module.platform.api_address
}
