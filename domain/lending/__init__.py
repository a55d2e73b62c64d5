"""Loan applications assessed by a bank partner (CONTRACTS.md section 2)."""
