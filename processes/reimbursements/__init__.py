"""The reimbursements workflow's application service and process managers."""
