"""The reimbursements endpoints document every status they can answer."""

from __future__ import annotations

from tests.issuer import TokenIssuer
from tests.unit.test_openapi import openapi


def test_reimbursement_endpoints_document_their_errors(issuer: TokenIssuer) -> None:
    paths = openapi(issuer)["paths"]
    expected = {
        ("post", "/reimbursements"): {"201", "404", "422"},
        ("get", "/reimbursements/{reimbursement_id}"): {"200", "404"},
        ("post", "/reimbursements/{reimbursement_id}/approve"): {"200", "403", "404", "409", "422"},
        ("post", "/reimbursements/{reimbursement_id}/deny"): {"200", "403", "404", "409", "422"},
        ("post", "/reimbursements/{reimbursement_id}/payment/retry"): {"202", "404", "409"},
        ("get", "/reimbursements/{reimbursement_id}/events"): {"200", "404"},
        ("get", "/members/{member_id}/reimbursements"): {"200", "400", "404", "422"},
        ("get", "/banks"): {"200", "400"},
        ("get", "/banks/{bank_id}/administrators"): {"200", "400", "404"},
        ("get", "/banks/{bank_id}/accounts"): {"200", "400", "404"},
        ("get", "/banks/{bank_id}/reimbursements"): {"200", "400", "404", "422"},
    }
    for (method, path), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), (method, path)
