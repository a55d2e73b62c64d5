# The development environment: `terraform init && terraform apply` in this directory
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

provider "digitalocean" {
  token = var.do_token
}

module "cluster" {
  source         = "../../modules/cluster"
  environment    = "development"
  node_size      = "s-2vcpu-4gb"
  min_nodes      = 1
  max_nodes      = 2
  database_size  = "db-s-1vcpu-1gb"
  database_nodes = 1
}

provider "kubernetes" {
  host                   = module.cluster.kubernetes_endpoint
  token                  = module.cluster.kubernetes_token
  cluster_ca_certificate = module.cluster.kubernetes_ca_certificate
}

module "platform" {
  source              = "../../modules/platform"
  environment         = "development"
  image               = var.image
  database_url        = module.cluster.database_url
  api_replicas        = 1
  simulators          = true
  load_reference_data = true
  settings            = { LEDGERFLOW_TEST_MODE = "true" }
}

output "api_address" {
  value = module.platform.api_address
}
