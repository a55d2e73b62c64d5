"""The reimbursements workflow through real parts: the API over HTTP, PostgreSQL, the
work engine, the projections, the payment rail and mailbox simulators on real ports,
and the SMS workflow itself (ingester, worker, SMS provider simulator)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from domain.access import Role
from domain.reimbursements.reference import reference_id
from domain.sms.aggregate import sms_id_for
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators import mailbox, payment_rail, sms_provider
from simulators.registry import running
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

NORDIC = reference_id("bank", "nordic-coop")
NORDIC_ADMIN = reference_id("administrator", "nordic-admin-1")
LAKESIDE_ADMIN = reference_id("administrator", "lakeside-admin-1")
WITH_PHONE = reference_id("account", "nordic-m-1-acct")  # Astrid, +4520123456
WITHOUT_PHONE = reference_id("account", "nordic-m-2-acct")  # Nils, no phone
HARBOUR = reference_id("bank", "harbour-trust")
HARBOUR_ADMIN = reference_id("administrator", "harbour-admin-1")
HARBOUR_ACCOUNT = reference_id("account", "harbour-m-2-acct")
HARBOUR_MEMBER = reference_id("member", "harbour-m-2")
LAKESIDE = reference_id("bank", "lakeside-savings")
# Each account's member, and each administrator's bank: the claims of their tokens.
MEMBER_OF = {
    WITH_PHONE: reference_id("member", "nordic-m-1"),
    WITHOUT_PHONE: reference_id("member", "nordic-m-2"),
    HARBOUR_ACCOUNT: HARBOUR_MEMBER,
}
BANK_OF = {LAKESIDE_ADMIN: LAKESIDE, HARBOUR_ADMIN: HARBOUR}


class Api(httpx.Client):
    """The API as an operator (reads everything, takes the operator actions), and the
    headers of the members and administrators who submit and decide."""

    def __init__(self, issuer: TokenIssuer, base_url: str) -> None:
        super().__init__(base_url=base_url, timeout=10, headers=issuer.headers(Role.OPERATOR))
        self.issuer = issuer

    def member(self, account: uuid.UUID) -> dict[str, str]:
        """The token of `account`'s member."""
        return self.issuer.headers(Role.MEMBER, member_id=MEMBER_OF[account])

    def admin(self, administrator: uuid.UUID = NORDIC_ADMIN) -> dict[str, str]:
        """The token of `administrator` (of the Nordic bank unless `BANK_OF` says)."""
        bank = BANK_OF.get(administrator, NORDIC)
        return self.issuer.headers(Role.BANK_ADMIN, bank_id=bank, administrator_id=administrator)


@pytest.fixture(scope="module")
def rail() -> Iterator[httpx.Client]:
    settings = payment_rail.PaymentRailSettings(
        create_delay_seconds=0.05, settle_seconds=0.2, failure_rate=0.0
    )
    with running(payment_rail.create_app(settings)) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def mail() -> Iterator[httpx.Client]:
    with running(mailbox.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def sms_simulator() -> Iterator[httpx.Client]:
    with running(sms_provider.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(
    database_url: str,
    rail: httpx.Client,
    mail: httpx.Client,
    sms_simulator: httpx.Client,
    issuer: TokenIssuer,
) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=database_url,
        payment_rail_url=str(rail.base_url),
        mailbox_url=str(mail.base_url),
        sms_provider_url=str(sms_simulator.base_url),
        worker_concurrency=20,
        retry_base_seconds=0.02,
        retry_cap_seconds=0.1,
        retry_budget_seconds=1.0,
        work_lease_seconds=3,
        outbound_timeout_seconds=2,
        reimbursements_payment_poll_seconds=0.1,
    )


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[Api]:
    async def seed() -> int:
        async with platform_session(settings, only={"reimbursements"}) as platform:
            return await platform.workflows["reimbursements"].seed("demo-banks")

    asyncio.run(seed())  # new, or already loaded by another module on this database
    assert asyncio.run(seed()) == 0  # idempotent
    with running(create_app(settings)) as url, Api(issuer, url) as client:
        yield client


@pytest.fixture(scope="module")
def platform_workers(settings: Settings, api: Api) -> Iterator[None]:
    with workers(settings, "reimbursements", "projections", "sms", "ingester"):
        yield


@pytest.fixture(autouse=True)
def calm_simulators(rail: httpx.Client, mail: httpx.Client) -> None:
    calm = {"error_rate": 0, "reset_rate": 0, "timeout_rate": 0, "lost_response_rate": 0}
    for simulator in (rail, mail):
        simulator.put("/__admin/faults", json=calm)
    rail.put("/__admin/settings", json={"failing_accounts": [], "failure_rate": 0.0})


# The demo banks' accounts are in their country's currency.
CURRENCIES = {WITH_PHONE: "DKK", WITHOUT_PHONE: "DKK", HARBOUR_ACCOUNT: "EUR"}


def submit(
    api: Api, account: uuid.UUID = WITH_PHONE, amount: str = "129.90", **changes: Any
) -> dict[str, Any]:
    """Submitted by the account's member."""
    body = {
        "bank_account_id": str(account),
        "amount": {"amount": amount, "currency": CURRENCIES[account]},
        "description": "Train tickets to the branch audit",
        **changes,
    }
    answer = api.post("/reimbursements", json=body, headers=api.member(account))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def reimbursement(api: Api, reimbursement_id: str) -> dict[str, Any]:
    return dict(api.get(f"/reimbursements/{reimbursement_id}").json())


def event_types(api: Api, reimbursement_id: str) -> list[str]:
    return [e["type"] for e in api.get(f"/reimbursements/{reimbursement_id}/events").json()]


def mails_of(mail: httpx.Client, message_id: str) -> dict[str, Any] | None:
    answer = mail.get(f"/v1/mail/{quote(message_id, safe='')}")
    return dict(answer.json()) if answer.status_code == 200 else None


def test_submit_answers_201_pending_with_the_member_of_the_account(api: Api) -> None:
    created = submit(api, amount="12.50")
    assert created["status"] == "pending" and created["payment_status"] is None
    assert created["amount"] == {"amount": "12.50", "currency": "DKK"}
    assert created["member_id"] == str(reference_id("member", "nordic-m-1"))
    assert created["bank_id"] == str(NORDIC)
    assert reimbursement(api, created["id"]) == created
    assert event_types(api, created["id"]) == ["ReimbursementSubmitted"]


def dkk(amount: object) -> dict[str, object]:
    return {"amount": amount, "currency": "DKK"}


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("amount", dkk("0.00"), ["amount"]),
        ("amount", dkk("-5.00"), ["amount", "amount"]),
        ("amount", dkk("1.234"), ["amount", "amount"]),
        ("amount", dkk("12.5"), ["amount"]),
        ("amount", dkk(12.5), ["amount", "amount"]),
        ("amount", dkk("ten"), ["amount", "amount"]),
        ("amount", {"amount": "1.00", "currency": "dkk"}, ["amount", "currency"]),
        ("amount", "10.00", ["amount"]),
        ("description", "", ["description"]),
        ("description", "   ", ["description"]),
        ("description", "x" * 501, ["description"]),
        ("bank_account_id", "not-a-uuid", ["bank_account_id"]),
    ],
)
def test_submit_validation_names_the_field(
    api: Api, field: str, value: object, loc: list[str]
) -> None:
    body = {"bank_account_id": str(WITH_PHONE), "amount": dkk("10.00"), "description": "Taxi"}
    answer = api.post(
        "/reimbursements", json={**body, field: value}, headers=api.member(WITH_PHONE)
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", *loc]


def test_an_amount_in_another_currency_than_the_accounts_is_refused(api: Api) -> None:
    answer = api.post(
        "/reimbursements",
        json={
            "bank_account_id": str(WITH_PHONE),  # a Danish account: DKK
            "amount": {"amount": "1250.00", "currency": "KES"},
            "description": "Taxi",
        },
        headers=api.member(WITH_PHONE),
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "currency_not_the_accounts"
    assert "KES" in answer.json()["message"] and "DKK" in answer.json()["message"]


def test_unknown_resources_answer_404(api: Api) -> None:
    unknown = uuid.uuid4()
    answer = api.post(
        "/reimbursements",
        json={
            "bank_account_id": str(unknown),
            "amount": {"amount": "1.00", "currency": "EUR"},
            "description": "x",
        },
        headers=api.member(WITH_PHONE),
    )
    assert (answer.status_code, answer.json()["code"]) == (404, "bank_account_not_found")
    assert api.get(f"/reimbursements/{unknown}").status_code == 404
    assert api.get(f"/reimbursements/{unknown}/events").status_code == 404
    # An id of another kind of thing is not a reimbursement either.
    assert api.get(f"/reimbursements/{NORDIC}").status_code == 404
    assert api.post(f"/reimbursements/{unknown}/payment/retry").status_code == 404
    assert api.get(f"/members/{unknown}/reimbursements").status_code == 404
    for path in ("administrators", "accounts", "reimbursements"):
        assert api.get(f"/banks/{unknown}/{path}").json()["code"] == "bank_not_found"


def test_decisions_check_the_role_then_404_then_409(api: Api) -> None:
    """The deciding administrator is the caller: one of another bank finds nothing (404,
    as for an unknown id); other roles may never decide (403)."""
    created = submit(api)
    path = f"/reimbursements/{created['id']}"
    nobody = api.admin(uuid.uuid4())  # a token of the Nordic bank naming no administrator
    other_bank, own = api.admin(LAKESIDE_ADMIN), api.admin()

    unknown_reimbursement = api.post(f"/reimbursements/{uuid.uuid4()}/approve", headers=own)
    assert unknown_reimbursement.json()["code"] == "reimbursement_not_found"
    assert api.post(f"{path}/approve", headers=nobody).json()["code"] == "administrator_not_found"
    foreign = api.post(f"{path}/deny", json={"reason": "no"}, headers=other_bank)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "reimbursement_not_found")
    for role in (api.member(WITH_PHONE), api.issuer.headers(Role.AUDITOR), {}):
        assert api.post(f"{path}/approve", headers=role).status_code == 403  # {}: an operator
    assert api.post(f"{path}/deny", json={"reason": " "}, headers=own).status_code == 422
    smuggled = {"reason": "x", "administrator_id": str(NORDIC_ADMIN)}  # no longer a field
    assert api.post(f"{path}/deny", json=smuggled, headers=own).status_code == 422

    denied = api.post(f"{path}/deny", json={"reason": "No receipt"}, headers=own)
    assert denied.status_code == 200 and denied.json()["decided_by"] == str(NORDIC_ADMIN)
    late = api.post(f"{path}/approve", headers=own)
    assert (late.status_code, late.json()["code"]) == (409, "reimbursement_not_pending")
    # Precedence on a decided reimbursement: the unknown actor, then the foreign one.
    assert api.post(f"{path}/approve", headers=nobody).status_code == 404
    assert api.post(f"{path}/approve", headers=other_bank).status_code == 404
    assert api.post(f"{path}/payment/retry").status_code == 409  # denied: nothing to pay


def test_two_racing_decisions_one_wins(api: Api) -> None:
    created = submit(api, account=WITHOUT_PHONE)
    path = f"/reimbursements/{created['id']}"
    other_admin = reference_id("administrator", "nordic-admin-2")
    bodies: list[tuple[str, dict[str, str] | None, dict[str, str]]] = [
        ("approve", None, api.admin()),
        ("deny", {"reason": "duplicate claim"}, api.admin(other_admin)),
    ] * 4

    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(
            pool.map(
                lambda call: api.post(f"{path}/{call[0]}", json=call[1], headers=call[2]), bodies
            )
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (len(bodies) - 1), statuses
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    assert reimbursement(api, created["id"])["status"] == winner["status"]
    decisions = [t for t in event_types(api, created["id"]) if t.startswith("Reimbursement")]
    assert len(decisions) == 2  # submitted, and exactly one decision


def test_approval_mails_texts_and_pays_once(
    api: Api,
    rail: httpx.Client,
    mail: httpx.Client,
    sms_simulator: httpx.Client,
    platform_workers: None,
) -> None:
    created = submit(api)
    rid = created["id"]
    approved = api.post(f"/reimbursements/{rid}/approve", headers=api.admin())
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["payment_status"] == "pending"

    def settled() -> dict[str, Any] | None:
        current = reimbursement(api, rid)
        done = current["payment_status"] == "paid" and len(current["notifications"]) == 2
        return current if done else None

    final = eventually(settled)
    assert final["notifications"] == {"email:approved": "sent", "sms:approved": "sent"}
    assert final["rail_payment_id"].startswith("PAY") and final["paid_at"]

    # One mail, with its deterministic Message-ID.
    sent = mails_of(mail, f"<reimbursement-{rid}-approved@ledgerflow>")
    assert sent is not None and sent["to"] == "astrid.berg@example.com"
    assert "approved" in sent["subject"] and sent["deliveries"] == 1
    # One SMS command, sent by the SMS workflow itself.
    sms_id = sms_id_for(f"reimbursement-{rid}-approved")
    assert eventually(lambda: api.get(f"/sms/{sms_id}").json().get("status") == "sent")
    sms = api.get(f"/sms/{sms_id}").json()
    assert sms["phone_number"] == "+4520123456" and sms["correlation_id"] == rid
    # One payment at the rail, keyed by the payment's id.
    keys = [item["key"] for item in rail.get("/__admin/ledger").json()["items"]]
    assert keys.count(final["payment_id"]) == 1
    types = event_types(api, rid)
    assert types[:2] == ["ReimbursementSubmitted", "ReimbursementApproved"]
    assert sorted(types[2:]) == sorted(
        ["PaymentSubmitted", "PaymentSucceeded", "NotificationSent", "NotificationSent"]
    )


def test_denial_mails_the_reason_and_texts_only_with_a_phone(
    api: Api, mail: httpx.Client, rail: httpx.Client, platform_workers: None
) -> None:
    created = submit(api, account=WITHOUT_PHONE)
    rid = created["id"]
    denied = api.post(
        f"/reimbursements/{rid}/deny", json={"reason": "Receipt is unreadable"}, headers=api.admin()
    )
    assert denied.status_code == 200 and denied.json()["denial_reason"] == "Receipt is unreadable"
    sent = eventually(lambda: mails_of(mail, f"<reimbursement-{rid}-denied@ledgerflow>"))
    assert "Receipt is unreadable" in sent["text"] and sent["to"] == "nils.dahl@example.com"
    assert eventually(lambda: reimbursement(api, rid)["notifications"] == {"email:denied": "sent"})
    # No phone on file: no SMS; denied: no payment.
    assert api.get(f"/sms/{sms_id_for(f'reimbursement-{rid}-denied')}").status_code == 404
    assert reimbursement(api, rid)["payment_status"] is None
    assert all(
        item["request"]["reference"] != rid for item in rail.get("/__admin/ledger").json()["items"]
    )


def _seed_losing_first_answer_only(rate: float = 0.5, then_kept: int = 8) -> int:
    """A fault seed whose first request loses its answer and whose next `then_kept` do
    not (the control surface draws two numbers per request: latency, then fault)."""
    for seed in range(100_000):
        rng = random.Random(seed)
        faults = [(rng.random(), rng.random())[1] for _ in range(1 + then_kept)]
        if faults[0] < rate and all(u >= rate for u in faults[1:]):
            return seed
    raise AssertionError("no such seed")


def test_a_retried_mail_is_the_same_mail(
    api: Api, mail: httpx.Client, platform_workers: None
) -> None:
    created = submit(api, account=WITHOUT_PHONE)
    rid = created["id"]
    mail.put(
        "/__admin/faults",
        json={"seed": _seed_losing_first_answer_only(), "lost_response_rate": 0.5},
    )
    api.post(f"/reimbursements/{rid}/deny", json={"reason": "Out of policy"}, headers=api.admin())
    assert eventually(lambda: reimbursement(api, rid)["notifications"] == {"email:denied": "sent"})
    message_id = f"<reimbursement-{rid}-denied@ledgerflow>"
    delivered = mails_of(mail, message_id)
    assert delivered is not None and delivered["deliveries"] == 2  # two sends, one mail
    ledger = mail.get("/__admin/ledger").json()["items"]
    assert [entry["key"] for entry in ledger].count(message_id) == 1
    types = event_types(api, rid)
    assert types.count("NotificationFailed") == 1 and types.count("NotificationSent") == 1


def test_a_failed_payment_tells_the_member_and_an_operator_retries_it(
    api: Api, rail: httpx.Client, mail: httpx.Client, platform_workers: None
) -> None:
    created = submit(api, account=WITHOUT_PHONE, amount="40.00")
    rid = created["id"]
    rail.put("/__admin/settings", json={"failing_accounts": [str(WITHOUT_PHONE)]})
    api.post(f"/reimbursements/{rid}/approve", headers=api.admin())
    assert eventually(lambda: reimbursement(api, rid)["payment_status"] == "failed")
    failed = reimbursement(api, rid)
    assert "refused" in failed["payment_error"]
    told = eventually(lambda: mails_of(mail, f"<reimbursement-{rid}-payment-1-failed@ledgerflow>"))
    assert "failed" in told["subject"]
    assert api.post(f"/reimbursements/{rid}/approve", headers=api.admin()).status_code == 409

    rail.put("/__admin/settings", json={"failing_accounts": []})
    # Every failed payment at once, as the operator who asked (an auditor may not).
    retry_parked = "/status/work/reimbursements.payment/retry-parked"
    assert api.post(retry_parked, headers=api.issuer.headers(Role.AUDITOR)).status_code == 403
    assert eventually(
        lambda: (
            rid
            in {
                i["key"]
                for i in api.get("/status/attention", params={"kind": "payment_failed"}).json()[
                    "items"
                ]
            }
        ),
        what="the attention list to show it",
    )
    operator = api.issuer.headers(Role.OPERATOR, subject="ops-lena")
    answer = api.post(retry_parked, headers=operator)
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "reimbursements.payment" and answer.json()["retried"] >= 1
    retried = reimbursement(api, rid)
    assert retried["payment_round"] == 2
    assert retried["payment_id"] != failed["payment_id"]  # a new idempotency key
    assert api.post(f"/reimbursements/{rid}/payment/retry").status_code == 409
    assert eventually(lambda: reimbursement(api, rid)["payment_status"] == "paid")
    [asked] = [
        e
        for e in api.get(f"/reimbursements/{rid}/events").json()
        if e["type"] == "PaymentRetryRequested"
    ]
    assert asked["actor"] == {"role": "operator", "subject": "ops-lena"}

    keys = [item["key"] for item in rail.get("/__admin/ledger").json()["items"]]
    assert keys.count(failed["payment_id"]) == 1
    assert keys.count(retried["payment_id"]) == 1
    types = event_types(api, rid)
    assert types.count("PaymentSubmitted") == 2
    assert "PaymentFailed" in types and "PaymentRetryRequested" in types
    assert types.index("PaymentRetryRequested") < types.index("PaymentSucceeded")


def test_a_lost_create_answer_is_retried_with_the_same_key(
    api: Api, rail: httpx.Client, platform_workers: None
) -> None:
    created = submit(api, account=WITHOUT_PHONE, amount="7.25")
    rid = created["id"]
    rail.put(
        "/__admin/faults",
        json={"seed": _seed_losing_first_answer_only(), "lost_response_rate": 0.5},
    )
    # Deny-free approval: the payment's create call loses its first answer.
    api.post(f"/reimbursements/{rid}/approve", headers=api.admin())
    rail_calls_done = eventually(lambda: reimbursement(api, rid)["rail_payment_id"] is not None)
    assert rail_calls_done
    rail.put("/__admin/faults", json={"lost_response_rate": 0})
    assert eventually(lambda: reimbursement(api, rid)["payment_status"] == "paid")
    final = reimbursement(api, rid)
    keys = [item["key"] for item in rail.get("/__admin/ledger").json()["items"]]
    assert keys.count(final["payment_id"]) == 1  # two calls, one payment
    assert final["payment_attempts"] == 2
    assert event_types(api, rid).count("PaymentAttemptFailed") == 1


def test_a_payment_given_up_without_an_answer_is_retried_as_the_same_payment(
    api: Api, rail: httpx.Client, platform_workers: None
) -> None:
    """Every create's answer is lost: the rail made the payment, the platform never heard
    and gave up. Nobody is told it failed, and the operator's retry asks the rail for that
    payment by its key: one payment at the rail, not two."""
    created = submit(api, account=WITHOUT_PHONE, amount="12.50")
    rid = created["id"]
    rail.put("/__admin/faults", json={"lost_response_rate": 1.0})
    api.post(f"/reimbursements/{rid}/approve", headers=api.admin())
    assert eventually(lambda: reimbursement(api, rid)["payment_status"] == "failed")
    failed = reimbursement(api, rid)
    assert "gave up" in failed["payment_error"]
    trail = api.get(f"/reimbursements/{rid}/events").json()
    [failure] = [event for event in trail if event["type"] == "PaymentFailed"]
    assert failure["data"]["definitive"] is False

    rail.put("/__admin/faults", json={"lost_response_rate": 0})
    retried = api.post(f"/reimbursements/{rid}/payment/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["payment_round"] == 2
    assert retried.json()["payment_id"] == failed["payment_id"]  # the same payment's key
    assert eventually(lambda: reimbursement(api, rid)["payment_status"] == "paid")
    keys = [item["key"] for item in rail.get("/__admin/ledger").json()["items"]]
    assert keys.count(failed["payment_id"]) == 1
    assert "NotificationSent" not in [
        event["type"]
        for event in api.get(f"/reimbursements/{rid}/events").json()
        if event["data"].get("purpose") == "payment_failed"
    ]


def test_reference_data_and_lists(api: Api, platform_workers: None) -> None:
    banks = eventually(lambda: api.get("/banks").json()["items"])
    assert {bank["uid"] for bank in banks} >= {"nordic-coop", "lakeside-savings", "harbour-trust"}
    first = api.get("/banks", params={"limit": 1}).json()
    second = api.get("/banks", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert first["items"][0]["id"] != second["items"][0]["id"]

    admins = api.get(f"/banks/{HARBOUR}/administrators").json()["items"]
    assert {a["uid"] for a in admins} == {"harbour-admin-1", "harbour-admin-2"}
    accounts = api.get(f"/banks/{HARBOUR}/accounts").json()["items"]
    by_uid = {account["uid"]: account for account in accounts}
    assert by_uid["harbour-m-1-acct"]["member"]["phone"] == "+351912345678"
    assert by_uid["harbour-m-2-acct"]["member"]["phone"] is None
    assert by_uid["harbour-m-2-acct"]["member"]["email"] == "tiago.santos@example.com"
    assert {account["currency"] for account in by_uid.values()} == {"EUR"}  # a Lisbon bank

    ids = [submit(api, account=HARBOUR_ACCOUNT, amount=f"{n}.00")["id"] for n in (1, 2, 3)]
    api.post(
        f"/reimbursements/{ids[0]}/deny", json={"reason": "no"}, headers=api.admin(HARBOUR_ADMIN)
    )

    def listed(path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = api.get(path, params=query).json()
            assert len(page["items"]) <= 2
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    mine = eventually(
        lambda: (x := listed(f"/members/{HARBOUR_MEMBER}/reimbursements")) and len(x) == 3 and x
    )
    assert [item["id"] for item in mine] == ids
    assert {k: mine[1][k] for k in ("amount", "description", "status")} == {
        "amount": {"amount": "2.00", "currency": "EUR"},
        "description": "Train tickets to the branch audit",
        "status": "pending",
    }
    assert mine[1]["submitted_at"]
    pending = eventually(
        lambda: (
            (x := listed(f"/banks/{HARBOUR}/reimbursements", status="pending"))
            and len(x) == 2
            and x
        )
    )
    assert [item["id"] for item in pending] == ids[1:]
    denied = eventually(lambda: listed(f"/banks/{HARBOUR}/reimbursements", status="denied"))
    assert [item["id"] for item in denied] == ids[:1]
    assert api.get(f"/banks/{HARBOUR}/reimbursements", params={"status": "open"}).status_code == 422
    assert api.get("/banks", params={"limit": 501}).status_code == 422
    bad_cursor = api.get(f"/members/{HARBOUR_MEMBER}/reimbursements", params={"cursor": "x"})
    assert bad_cursor.status_code == 400


def test_members_and_administrators_reach_their_own_alone(api: Api, platform_workers: None) -> None:
    """A member reads its own accounts and reimbursements, never another member's; an
    administrator its own bank's, never another bank's: those answer 404, as unknown ids."""
    mine = submit(api, account=WITHOUT_PHONE, amount="3.00")
    member, other_member = MEMBER_OF[WITHOUT_PHONE], MEMBER_OF[WITH_PHONE]
    as_member = api.member(WITHOUT_PHONE)

    accounts = api.get(f"/members/{member}/accounts", headers=as_member)
    assert [a["id"] for a in accounts.json()["items"]] == [str(WITHOUT_PHONE)]
    assert api.get(f"/reimbursements/{mine['id']}", headers=as_member).status_code == 200
    for path in (
        f"/members/{other_member}/accounts",
        f"/members/{other_member}/reimbursements",
        f"/reimbursements/{submit(api, account=WITH_PHONE)['id']}",
    ):
        assert api.get(path, headers=as_member).status_code == 404, path
    on_theirs = {
        "bank_account_id": str(WITH_PHONE),
        "amount": {"amount": "1.00", "currency": "DKK"},
        "description": "Taxi",
    }
    refused = api.post("/reimbursements", json=on_theirs, headers=as_member)
    assert (refused.status_code, refused.json()["code"]) == (404, "bank_account_not_found")
    assert api.get(f"/banks/{NORDIC}/accounts", headers=as_member).status_code == 403
    assert api.get("/sms", headers=as_member).status_code == 403

    nordic, lakeside = api.admin(), api.admin(LAKESIDE_ADMIN)
    assert api.get(f"/reimbursements/{mine['id']}", headers=nordic).status_code == 200
    assert api.get(f"/reimbursements/{mine['id']}", headers=lakeside).status_code == 404
    assert api.get(f"/members/{member}/accounts", headers=nordic).status_code == 200
    assert api.get(f"/members/{member}/accounts", headers=lakeside).status_code == 404
    for path in ("administrators", "accounts", "reimbursements"):
        assert api.get(f"/banks/{NORDIC}/{path}", headers=nordic).status_code == 200
        assert api.get(f"/banks/{NORDIC}/{path}", headers=lakeside).status_code == 404
    banks = eventually(lambda: api.get("/banks", headers=lakeside).json()["items"])
    assert [bank["id"] for bank in banks] == [str(LAKESIDE)]
    auditor = api.issuer.headers(Role.AUDITOR)
    assert api.get(f"/members/{member}/reimbursements", headers=auditor).status_code == 200
    assert api.post(f"/reimbursements/{mine['id']}/approve", headers=auditor).status_code == 403
