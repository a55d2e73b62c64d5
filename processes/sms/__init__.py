"""The SMS workflow's application service and process manager."""
