output "namespace" {
  value = kubernetes_namespace_v1.ledgerflow.metadata[0].name
}

output "api_address" {
  description = "The load balancer's address (once DigitalOcean has assigned it)."
  value       = try(kubernetes_service_v1.api.status[0].load_balancer[0].ingress[0].ip, null)
}
