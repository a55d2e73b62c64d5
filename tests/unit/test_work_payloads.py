"""Each policy's payload to and from the work table's JSON: rows stored before payloads
were typed (plain dicts of these field names) still read, and what is written now reads
back the same."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from adapters.work.policy import PayloadCodec
from domain.reimbursements.aggregate import Purpose
from domain.work import NoPayload
from processes.billing.charging import ChargePayload
from processes.lending.poller import AssessPayload
from processes.orders.placement import PlacementPayload
from processes.reimbursements.notify import NotificationPayload
from processes.reimbursements.payment import CheckPayload, StartPayload
from processes.sms.dispatch import SendPayload

RUN, PAYMENT = uuid.uuid4(), uuid.uuid4()

STORED: list[tuple[type[Any], dict[str, Any], object]] = [
    (
        SendPayload,
        {"idempotency_key": "k-1", "phone_number": "+254712345678", "text": "hi"},
        SendPayload("k-1", "+254712345678", "hi"),
    ),
    (SendPayload, {"idempotency_key": "k-1"}, SendPayload("k-1")),
    (
        PlacementPayload,
        {
            "type": "limit",
            "side": "buy",
            "instrument": "ACME",
            "limit_price": "101.25",
            "quantity": 10,
        },
        PlacementPayload("limit", "buy", "ACME", Decimal("101.25"), 10),
    ),
    (
        PlacementPayload,
        {
            "type": "market",
            "side": "sell",
            "instrument": "ACME",
            "limit_price": None,
            "quantity": 1,
        },
        PlacementPayload("market", "sell", "ACME", None, 1),
    ),
    (ChargePayload, {"cycle": 1, "run_id": str(RUN)}, ChargePayload(1, RUN)),
    (ChargePayload, {"cycle": 2, "run_id": None}, ChargePayload(2, None)),
    (NoPayload, {}, NoPayload()),
    (
        AssessPayload,
        {"first_name": "Amina", "last_name": "Okafor", "round": 2},
        AssessPayload("Amina", "Okafor", 2),
    ),
    (StartPayload, {"round": 1, "payment_id": str(PAYMENT)}, StartPayload(1, PAYMENT)),
    (CheckPayload, {"round": 1, "rail_payment_id": "PAY1"}, CheckPayload(1, "PAY1")),
    (
        NotificationPayload,
        {"purpose": "payment_failed", "round": 1},
        NotificationPayload(Purpose.PAYMENT_FAILED, 1),
    ),
]


@pytest.mark.parametrize(("payload_type", "stored", "payload"), STORED)
def test_a_stored_payload_reads_as_its_type_and_is_written_the_same_way(
    payload_type: type[Any], stored: dict[str, Any], payload: object
) -> None:
    codec = PayloadCodec(payload_type)
    assert codec.load(stored) == payload
    written = codec.dump(payload)
    assert codec.load(written) == payload
    assert isinstance(written, dict)
    assert {name: written[name] for name in stored} == stored  # today's field names, as JSON
