"""The billing workflow's application service, process managers and scheduler."""
