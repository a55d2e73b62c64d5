"""The lending workflow's application service, poller policy and integration events."""
