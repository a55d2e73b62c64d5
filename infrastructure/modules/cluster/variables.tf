# Every input is given by the root module (infrastructure/variables.tf holds the defaults).

variable "environment" {
  description = "development, staging or production: part of every resource's name."
  type        = string
}

variable "region" {
  description = "DigitalOcean region of the cluster, its network and its database."
  type        = string
}

variable "node_size" {
  description = "Droplet size of the cluster's nodes."
  type        = string
}

variable "min_nodes" {
  description = "The node pool autoscales between min_nodes and max_nodes."
  type        = number
}

variable "max_nodes" {
  type = number
}

variable "database_size" {
  description = "Size of the managed PostgreSQL nodes (the event store and every read model)."
  type        = string
}

variable "database_nodes" {
  description = "Managed PostgreSQL nodes: more than one adds standbys that take over on failure."
  type        = number
}

variable "kubernetes_version_prefix" {
  description = "The cluster runs the newest DigitalOcean Kubernetes release with this prefix."
  type        = string
  default     = "1.31."
}
