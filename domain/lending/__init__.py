"""Loan applications assessed by a bank partner (docs/third-parties.md, "Bank partner")."""
