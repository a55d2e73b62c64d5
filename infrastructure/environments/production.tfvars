# Production: the real third parties (third_party_urls, and secrets such as
# LEDGERFLOW_REIMBURSEMENTS_SMTP_PASSWORD, in an untracked *.auto.tfvars), a database
# standby, and a second process of most workers (a follower's hot standby).
environment = "production"

cluster = {
  node_size      = "s-4vcpu-8gb"
  min_nodes      = 3
  max_nodes      = 6
  database_size  = "db-s-2vcpu-4gb"
  database_nodes = 2
}

platform = {
  api_replicas = 3
  worker_replicas = {
    sms            = 2
    orders         = 2
    billing        = 2
    lending        = 1
    reimbursements = 1
    projections    = 2
    relay          = 2
    ingester       = 2
  }
}
