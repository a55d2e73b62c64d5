# ledgerflow on DigitalOcean Kubernetes: one configuration for every environment, sized
# by environments/<environment>.tfvars, each environment's state in the workspace of its
# name (see README.md).

# Applying one environment's variables to another's state would replace its cluster.
resource "terraform_data" "environment" {
  input = var.environment
  lifecycle {
    precondition {
      condition     = terraform.workspace == var.environment
      error_message = "Select the workspace of this environment first: terraform workspace select ${var.environment}"
    }
  }
}

provider "digitalocean" {
  token = var.do_token
}

module "cluster" {
  source         = "./modules/cluster"
  environment    = var.environment
  region         = var.cluster.region
  node_size      = var.cluster.node_size
  min_nodes      = var.cluster.min_nodes
  max_nodes      = var.cluster.max_nodes
  database_size  = var.cluster.database_size
  database_nodes = var.cluster.database_nodes
}

provider "kubernetes" {
  host                   = module.cluster.kubernetes_endpoint
  token                  = module.cluster.kubernetes_token
  cluster_ca_certificate = module.cluster.kubernetes_ca_certificate
}

module "platform" {
  source              = "./modules/platform"
  environment         = var.environment
  image               = var.image
  database_url        = module.cluster.database_url
  amqp_url            = var.amqp_url
  api_replicas        = var.platform.api_replicas
  worker_replicas     = var.platform.worker_replicas
  simulators          = var.platform.simulators
  third_party_urls    = var.third_party_urls
  authentication      = var.authentication
  load_reference_data = var.platform.load_reference_data
  settings            = var.platform.settings
  secrets             = var.secrets
  monitoring          = var.platform.monitoring
}

output "api_address" {
  description = "The API's load balancer, once DigitalOcean has given it an address."
  value       = module.platform.api_address
}
