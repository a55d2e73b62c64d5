# Development: a small cluster, the simulators in it, the reference data loaded, and
# test mode on (PUT /__admin/clock moves the platform's time).
environment = "development"

cluster = {
  min_nodes = 1
  max_nodes = 2
}

platform = {
  simulators          = true
  load_reference_data = true
  settings            = { LEDGERFLOW_TEST_MODE = "true" }
}
