output "kubernetes_endpoint" {
  value = digitalocean_kubernetes_cluster.ledgerflow.endpoint
}

output "kubernetes_token" {
  value     = digitalocean_kubernetes_cluster.ledgerflow.kube_config[0].token
  sensitive = true
}

output "kubernetes_ca_certificate" {
  value     = base64decode(digitalocean_kubernetes_cluster.ledgerflow.kube_config[0].cluster_ca_certificate)
  sensitive = true
}

output "database_url" {
  description = "The platform's DATABASE_URL, over the private network and TLS."
  value = format(
    "postgresql://%s:%s@%s:%d/%s?sslmode=require",
    digitalocean_database_user.ledgerflow.name,
    digitalocean_database_user.ledgerflow.password,
    digitalocean_database_cluster.ledgerflow.private_host,
    digitalocean_database_cluster.ledgerflow.port,
    digitalocean_database_db.ledgerflow.name,
  )
  sensitive = true
}
