"""The billing workflow's domain: customers, invoices, billing runs and the payment
provider port."""
