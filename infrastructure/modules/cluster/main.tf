# A Kubernetes cluster and a managed PostgreSQL 15 in a private network of their own: the
# database takes connections from the cluster's nodes only, over TLS.

resource "digitalocean_vpc" "ledgerflow" {
  name   = "ledgerflow-${var.environment}"
  region = var.region
}

data "digitalocean_kubernetes_versions" "current" {
  version_prefix = var.kubernetes_version_prefix
}

resource "digitalocean_kubernetes_cluster" "ledgerflow" {
  name         = "ledgerflow-${var.environment}"
  region       = var.region
  version      = data.digitalocean_kubernetes_versions.current.latest_version
  vpc_uuid     = digitalocean_vpc.ledgerflow.id
  auto_upgrade = var.environment != "production"

  node_pool {
    name       = "ledgerflow-${var.environment}-nodes"
    size       = var.node_size
    auto_scale = true
    min_nodes  = var.min_nodes
    max_nodes  = var.max_nodes
  }
}

resource "digitalocean_database_cluster" "ledgerflow" {
  name                 = "ledgerflow-${var.environment}"
  engine               = "pg"
  version              = "15"
  size                 = var.database_size
  region               = var.region
  node_count           = var.database_nodes
  private_network_uuid = digitalocean_vpc.ledgerflow.id
}

resource "digitalocean_database_db" "ledgerflow" {
  cluster_id = digitalocean_database_cluster.ledgerflow.id
  name       = "ledgerflow"
}

resource "digitalocean_database_user" "ledgerflow" {
  cluster_id = digitalocean_database_cluster.ledgerflow.id
  name       = "ledgerflow"
}

resource "digitalocean_database_firewall" "ledgerflow" {
  cluster_id = digitalocean_database_cluster.ledgerflow.id

  rule {
    type  = "k8s"
    value = digitalocean_kubernetes_cluster.ledgerflow.id
  }
}
