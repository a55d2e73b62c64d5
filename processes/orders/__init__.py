"""The orders workflow's application service, placement policy and execution recording."""
