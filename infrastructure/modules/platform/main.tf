# The platform on Kubernetes, one process per container as `ledgerflow up` runs it: the
# database migrated first, then the API behind a load balancer, every worker, and
# (outside production) the simulators. Settings reach every container from one config
# map, secrets from one secret. The API and every worker serve their metrics on the
# `metrics` port of their pod, inside the cluster only (the load balancer's service
# forwards the API's port alone); the pods' annotations tell Prometheus to scrape it
# (infrastructure/monitoring/prometheus-kubernetes.yml), which with the dashboard is in
# config maps for the cluster's monitoring stack (`monitoring`).

locals {
  namespace = "ledgerflow-${var.environment}"
  # Each process's metrics (LEDGERFLOW_METRICS_PORT), and the annotations that have
  # Prometheus scrape them.
  metrics_port = 9100
  scrape_annotations = {
    "prometheus.io/scrape" = "true"
    "prometheus.io/port"   = "9100"
    "prometheus.io/path"   = "/metrics"
  }
  # Each third party's simulator and the setting that points the platform at it.
  third_parties = {
    "sms-provider"     = "LEDGERFLOW_SMS_PROVIDER_URL"
    "exchange"         = "LEDGERFLOW_EXCHANGE_URL"
    "payment-provider" = "LEDGERFLOW_PAYMENT_PROVIDER_URL"
    "bank-partner"     = "LEDGERFLOW_BANK_PARTNER_URL"
    "payment-rail"     = "LEDGERFLOW_PAYMENT_RAIL_URL"
    "mailbox"          = "LEDGERFLOW_MAILBOX_URL"
  }
  third_party_urls = {
    for name, setting in local.third_parties : setting => (
      var.simulators ? "http://${name}.${local.namespace}.svc.cluster.local:8080" : lookup(var.third_party_urls, name, "")
    )
  }
  reference_data = var.load_reference_data ? toset(["antaeus", "demo-banks"]) : toset([])
  # Whose tokens the API accepts; production refuses test mode and any issuer of its own.
  authentication = {
    LEDGERFLOW_ENVIRONMENT      = var.environment
    LEDGERFLOW_AUTH_ISSUER      = var.authentication.issuer
    LEDGERFLOW_AUTH_JWKS_URL    = var.authentication.jwks_url
    LEDGERFLOW_AUTH_AUDIENCE    = var.authentication.audience
    LEDGERFLOW_AUTH_ROLES_CLAIM = var.authentication.roles_claim
    LEDGERFLOW_AUTH_SCOPE_CLAIM = var.authentication.scope_claim
  }
}

resource "kubernetes_namespace_v1" "ledgerflow" {
  metadata {
    name = local.namespace
  }
}

resource "kubernetes_config_map_v1" "settings" {
  metadata {
    name      = "ledgerflow-settings"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  data = merge(
    {
      LEDGERFLOW_LOG_LEVEL    = "INFO"
      LEDGERFLOW_METRICS_PORT = tostring(local.metrics_port)
      LEDGERFLOW_METRICS_HOST = "0.0.0.0" # the pod's address, for the cluster's Prometheus
    },
    local.third_party_urls,
    local.authentication,
    var.settings,
  )

  lifecycle {
    precondition {
      condition     = var.simulators || alltrue([for name in keys(local.third_parties) : lookup(var.third_party_urls, name, "") != ""])
      error_message = "Without simulators, third_party_urls needs every third party: ${join(", ", keys(local.third_parties))}."
    }
  }
}

resource "kubernetes_secret_v1" "secrets" {
  metadata {
    name      = "ledgerflow-secrets"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  data = merge(
    { DATABASE_URL = var.database_url },
    var.amqp_url == null ? {} : { AMQP_URL = var.amqp_url },
    var.secrets,
  )
}

# `ledgerflow db migrate`, once per image, before anything that uses the tables: every
# process refuses to start on a schema older than its code. The job is named after the
# image, so a new release's image replaces it and migrates before its pods roll out.
resource "kubernetes_job_v1" "migrate" {
  metadata {
    name      = "migrate-${substr(sha1(var.image), 0, 10)}"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  spec {
    backoff_limit = 5
    template {
      metadata {}
      spec {
        restart_policy = "OnFailure"
        container {
          name  = "migrate"
          image = var.image
          args  = ["db", "migrate"]
          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.settings.metadata[0].name
            }
          }
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.secrets.metadata[0].name
            }
          }
        }
      }
    }
  }
  wait_for_completion = true
  timeouts {
    create = "10m"
  }
}

resource "kubernetes_job_v1" "reference_data" {
  for_each   = local.reference_data
  depends_on = [kubernetes_job_v1.migrate]

  metadata {
    name      = "seed-${each.key}"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  spec {
    backoff_limit = 5
    template {
      metadata {}
      spec {
        restart_policy = "OnFailure"
        container {
          name  = "seed"
          image = var.image
          args  = ["seed", each.key]
          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.settings.metadata[0].name
            }
          }
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.secrets.metadata[0].name
            }
          }
        }
      }
    }
  }
  wait_for_completion = true
}

resource "kubernetes_deployment_v1" "api" {
  depends_on = [kubernetes_job_v1.migrate]

  metadata {
    name      = "api"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
    labels    = { app = "api" }
  }
  spec {
    replicas = var.api_replicas
    selector {
      match_labels = { app = "api" }
    }
    template {
      metadata {
        labels      = { app = "api" }
        annotations = local.scrape_annotations
      }
      spec {
        container {
          name  = "api"
          image = var.image
          args  = ["api", "--host", "0.0.0.0", "--port", "8000"]
          port {
            name           = "http"
            container_port = 8000
          }
          port {
            name           = "metrics"
            container_port = local.metrics_port
          }
          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.settings.metadata[0].name
            }
          }
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.secrets.metadata[0].name
            }
          }
          readiness_probe {
            http_get {
              path = "/health"
              port = 8000
            }
            period_seconds = 5
          }
          resources {
            requests = { cpu = "500m", memory = "256Mi" }
            limits   = { memory = "512Mi" }
          }
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "api" {
  metadata {
    name      = "api"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  spec {
    type     = "LoadBalancer"
    selector = { app = "api" }
    port {
      port        = 80
      target_port = 8000
    }
  }
}

resource "kubernetes_deployment_v1" "worker" {
  for_each   = var.worker_replicas
  depends_on = [kubernetes_job_v1.migrate]

  metadata {
    name      = "worker-${each.key}"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
    labels    = { app = "worker-${each.key}" }
  }
  spec {
    replicas = each.value
    selector {
      match_labels = { app = "worker-${each.key}" }
    }
    template {
      metadata {
        labels      = { app = "worker-${each.key}" }
        annotations = local.scrape_annotations
      }
      spec {
        # A stopped worker finishes the calls in flight and records them first.
        termination_grace_period_seconds = 60
        container {
          name  = "worker"
          image = var.image
          args  = ["worker", each.key]
          port {
            name           = "metrics"
            container_port = local.metrics_port
          }
          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.settings.metadata[0].name
            }
          }
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.secrets.metadata[0].name
            }
          }
          resources {
            requests = { cpu = "250m", memory = "256Mi" }
            limits   = { memory = "512Mi" }
          }
        }
      }
    }
  }
}

resource "kubernetes_deployment_v1" "simulator" {
  for_each = var.simulators ? local.third_parties : {}

  metadata {
    name      = each.key
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
    labels    = { app = each.key }
  }
  spec {
    replicas = 1 # a simulator keeps its ledger in memory
    selector {
      match_labels = { app = each.key }
    }
    template {
      metadata {
        labels = { app = each.key }
      }
      spec {
        container {
          name  = "simulator"
          image = var.image
          args  = ["simulator", each.key, "--host", "0.0.0.0", "--port", "8080"]
          port {
            container_port = 8080
          }
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "simulator" {
  for_each = var.simulators ? local.third_parties : {}

  metadata {
    name      = each.key
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  spec {
    selector = { app = each.key }
    port {
      port        = 8080
      target_port = 8080
    }
  }
}

# The cluster's monitoring stack finds the platform's dashboard and scrape job here, from
# the same files compose mounts. Grafana's dashboard sidecar (the Grafana and
# kube-prometheus-stack Helm charts) loads every config map labelled
# `grafana_dashboard: "1"` in the namespaces it searches; the scrape job is a file for
# Prometheus's `scrape_config_files` (mount the config map into its pod).
resource "kubernetes_config_map_v1" "grafana_dashboard" {
  count = var.monitoring ? 1 : 0

  metadata {
    name      = "ledgerflow-grafana-dashboard"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
    labels    = { grafana_dashboard = "1" }
    # The folder, where the sidecar is told to read it (sidecar.dashboards.folderAnnotation).
    annotations = { grafana_folder = "ledgerflow" }
  }
  data = {
    "ledgerflow.json" = file("${path.module}/../../monitoring/grafana/dashboards/ledgerflow.json")
  }
}

resource "kubernetes_config_map_v1" "prometheus_scrape" {
  count = var.monitoring ? 1 : 0

  metadata {
    name      = "ledgerflow-prometheus-scrape"
    namespace = kubernetes_namespace_v1.ledgerflow.metadata[0].name
  }
  data = {
    "prometheus-kubernetes.yml" = file("${path.module}/../../monitoring/prometheus-kubernetes.yml")
  }
}
