"""The reimbursements workflow: members submit, bank administrators decide, mail, SMS and
a payment follow."""
