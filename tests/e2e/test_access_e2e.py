"""Who may do what, as users meet it: `ledgerflow up`, tokens from `ledgerflow token`, and
HTTP alone, through one flow of each workflow. Clients send SMS, place orders and submit
loan applications (which the bank partner decides) and see their own alone; a member
submits on its account, an administrator of its bank approves; an operator starts a
billing run, whose invoices the platform charges until paid; an auditor reads, the
actors each audit trail records included, and may do nothing."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerflow.supervisor import free_port
from tests.e2e.processes import bearer, ledgerflow_token, read_json, start_up, status_of
from tests.harness import eventually

pytestmark = pytest.mark.e2e

CLIENT_SCOPES = "sms:send sms:read orders:write orders:read applications:write applications:read"
ORDER = {"type": "limit", "side": "buy", "instrument": "US0378331005", "limit_price": "189.25"}
APPLICATION = {
    "first_name": "Amina",
    "last_name": "Okafor",
    "amount": {"amount": "15000.00", "currency": "EUR"},
    "term_months": 36,
    "email": "amina.okafor@example.com",
}


def test_each_role_does_what_it_may_through_every_workflow(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    up = start_up(data_dir, free_port())
    try:
        urls: dict[str, Any] = eventually(lambda: read_json(data_dir / "urls.json"), timeout=90)

        def as_(*args: str) -> httpx.Client:
            """A user of the API with the token `ledgerflow token ARGS` prints."""
            token = ledgerflow_token(data_dir, *args)
            return httpx.Client(base_url=urls["api"], timeout=15, headers=bearer(token))

        operator, auditor = as_("--role", "operator"), as_("--role", "auditor")
        eventually(lambda: status_of(operator, "/health") == 200, timeout=60)
        shop = as_("--role", "client", "--subject", "shop-a", "--scope", CLIENT_SCOPES)
        other_shop = as_("--role", "client", "--subject", "shop-b", "--scope", CLIENT_SCOPES)
        reader = as_("--role", "client", "--subject", "shop-c", "--scope", "sms:read")

        # SMS: a client's message id is its own; another client sees nothing of it.
        message_id = f"e2e-{uuid.uuid4()}"
        sms = {"message_id": message_id, "phone_number": "+254712345678", "text": "hello"}
        sent = shop.post("/sms", json=sms)
        assert sent.status_code == 202, sent.text
        same_id = other_shop.post("/sms", json={**sms, "text": "another text"})
        assert same_id.status_code == 202 and same_id.json()["id"] != sent.json()["id"]
        assert reader.post("/sms", json=sms).status_code == 403  # no sms:send
        sms_path = f"/sms/{sent.json()['id']}"
        eventually(lambda: shop.get(sms_path).json()["status"] == "sent", timeout=60)
        assert other_shop.get(sms_path).status_code == 404
        assert auditor.get(sms_path).status_code == 200

        # Orders: placed by the client, placed at the exchange, its own in its list.
        placed = shop.post("/orders", json={**ORDER, "quantity": 5})
        assert placed.status_code == 201, placed.text
        order_path = f"/orders/{placed.json()['id']}"
        eventually(lambda: shop.get(order_path).json()["exchange_order_id"], timeout=60)
        assert other_shop.get(order_path).status_code == 404
        listed = eventually(lambda: shop.get("/orders").json()["items"], timeout=30)
        assert [item["id"] for item in listed] == [placed.json()["id"]]
        assert other_shop.get("/orders").json()["items"] == []

        # Loan applications: submitted by the client, polled by the platform, decided by
        # the bank partner; its simulator decides in a second or two rather than 5-20 s.
        partner = urls["simulators"]["bank-partner"]
        quick = {"min_decision_seconds": 1, "max_decision_seconds": 2, "approval_rate": 1}
        assert httpx.put(f"{partner}/__admin/settings", json=quick).status_code == 200
        submitted = shop.post("/applications", json=APPLICATION)
        assert submitted.status_code == 201, submitted.text
        application_path = f"/applications/{submitted.json()['id']}"
        assert shop.get(application_path).json()["status"] == "pending"
        assert other_shop.get(application_path).status_code == 404
        assert shop.post(f"{application_path}/retry").status_code == 403  # operators'
        # Decided while the reimbursement goes through; checked after it, below.

        # Reimbursements: the operator finds a bank, its administrator and an account;
        # the account's member submits, the administrator approves, the rail pays.
        banks = eventually(lambda: operator.get("/banks").json()["items"], timeout=30)
        bank = banks[0]["id"]
        administrator = operator.get(f"/banks/{bank}/administrators").json()["items"][0]["id"]
        account = operator.get(f"/banks/{bank}/accounts").json()["items"][0]
        member_id = account["bank_member_id"]
        member = as_("--role", "member", "--member", member_id)
        admin = as_("--role", "bank_admin", "--bank", bank, "--administrator", administrator)
        mine = member.get(f"/members/{member_id}/accounts").json()["items"]
        assert account["id"] in {item["id"] for item in mine}
        claim = {
            "bank_account_id": account["id"],
            "amount": {"amount": "42.50", "currency": account["currency"]},
            "description": "Train tickets",
        }
        created = member.post("/reimbursements", json=claim)
        assert created.status_code == 201, created.text
        reimbursement_path = f"/reimbursements/{created.json()['id']}"
        assert auditor.post(f"{reimbursement_path}/approve").status_code == 403
        assert member.post(f"{reimbursement_path}/approve").status_code == 403
        approved = admin.post(f"{reimbursement_path}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["decided_by"] == administrator  # the token's, not a body's
        eventually(
            lambda: member.get(reimbursement_path).json()["payment_status"] == "paid",
            timeout=60,
        )

        # The partner's decision, as the client and an auditor see it.
        def decision() -> dict[str, Any] | None:
            body: dict[str, Any] = shop.get(application_path).json()
            return body if body["status"] != "pending" else None

        decided = eventually(decision, timeout=60, interval=0.25, what="the partner's decision")
        assert decided["status"] == "completed" and decided["job_id"], decided
        assert decided["decided_at"] is not None
        trail = [(e["type"], e["actor"]) for e in auditor.get(f"{application_path}/events").json()]
        assert trail == [
            ("ApplicationSubmitted", {"role": "client", "subject": "shop-a"}),
            ("ApplicationDecided", {"role": "system", "subject": "lending-poller"}),
        ]

        # Billing: an operator starts the month's run; auditors read, and may not start one.
        period = operator.get("/__admin/clock").json()["now"][:7]
        assert auditor.post("/billing/runs", json={"period": period}).status_code == 403
        run = operator.post("/billing/runs", json={"period": period})
        assert run.status_code in (200, 202), run.text
        assert auditor.get(f"/billing/runs/{run.json()['id']}").status_code == 200
        invoices = eventually(lambda: auditor.get("/invoices").json()["items"], timeout=30)
        assert invoices and shop.get("/invoices").status_code == 403
        # Every invoice the run selected is charged (the provider's simulator keeps an open
        # account for every customer) and paid, by the platform, after the operator's start.
        run_path = f"/billing/runs/{run.json()['id']}"

        def run_done() -> dict[str, Any] | None:
            body: dict[str, Any] = auditor.get(run_path).json()
            counts: dict[str, int] = body["counts"]
            charged = sum(n for status, n in counts.items() if status != "charging")
            return body if body["selection_complete"] and charged == body["selected"] else None

        done = eventually(run_done, timeout=60, interval=0.25, what="the run's charges")
        assert done["trigger"] == "manual" and done["selected"] > 0
        assert done["counts"] == {"paid": done["selected"]}, done
        paid = auditor.get("/invoices", params={"status": "paid", "limit": 1}).json()["items"][0]
        assert [attempt["outcome"] for attempt in paid["attempts"]] == ["charged"]
        charged = auditor.get(f"/invoices/{paid['id']}/events").json()[-2:]
        worker = {"role": "system", "subject": "worker-billing"}
        assert [(e["type"], e["actor"]) for e in charged] == [
            ("ChargeAttempted", worker),
            ("InvoicePaid", worker),
        ]
        assert charged[0]["data"]["run_id"] == run.json()["id"]  # charged for the run

        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
    except BaseException:
        if up.poll() is None:
            up.kill()
        print("ledgerflow up printed:\n", up.communicate(timeout=10)[0])
        for log in sorted((data_dir / "logs").glob("*.log")):
            print(f"--- {log.name}\n", "".join(log.read_text().splitlines(True)[-15:]))
        raise
