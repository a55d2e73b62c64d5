# Staging: production's shape at a smaller size, against the simulators.
environment = "staging"

cluster = {
  min_nodes     = 2
  max_nodes     = 3
  database_size = "db-s-1vcpu-2gb"
}

platform = {
  api_replicas        = 2
  simulators          = true
  load_reference_data = true
}
