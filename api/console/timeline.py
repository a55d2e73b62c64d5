"""An aggregate's timeline for the console: its current state (as its own API route shows
it), its events in order, and the calls the work engine still holds for it.

Each workflow names its aggregates its own way (an SMS by id, an invoice by its number);
`LOOKUPS` reads any of them through the workflow's service, and `by_client_key` finds an
SMS by its `message_id` or an order by its `Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from adapters.status import AggregateWork
from api.audit import EventPublic
from api.billing import InvoicePublic
from api.lending import ApplicationPublic
from api.orders import OrderPublic
from api.reimbursements import ReimbursementPublic
from api.services import ApiServices
from api.sms import SmsPublic
from domain.access import Actor
from domain.errors import NotFoundError
from domain.orders.aggregate import order_id_for
from domain.sms.aggregate import sms_id_for
from processes.audit import AuditEntry


class UnknownAggregate(NotFoundError):
    code = "aggregate_not_found"


@dataclass(frozen=True)
class Found:
    aggregate_id: UUID
    state: BaseModel  # the public shape its API route answers
    events: list[AuditEntry]


@dataclass(frozen=True)
class TimelineEvent:
    type: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]  # as JSON, as `GET /{collection}/{id}/events` answers it
    actor: Actor | None  # who caused it (None: an event that records no one)


@dataclass(frozen=True)
class Timeline:
    workflow: str
    key: str
    aggregate_id: UUID
    state: dict[str, Any]  # as JSON: what its own route answers
    events: list[TimelineEvent]  # oldest first
    work: list[AggregateWork]


Lookup = Callable[[ApiServices, str], Awaitable[Found]]


def _open(workflow: Any, name: str) -> Any:
    if workflow is None:
        raise LookupError(f"the {name} workflow is not open in this process")
    return workflow.service


async def _sms(services: ApiServices, key: str) -> Found:
    service, sms_id = _open(services.sms, "sms"), UUID(key)
    sms = await service.get(sms_id)
    return Found(sms_id, SmsPublic.model_validate(sms), await service.history(sms_id))


async def _order(services: ApiServices, key: str) -> Found:
    service, order_id = _open(services.orders, "orders"), UUID(key)
    order = await service.get(order_id)
    return Found(order_id, OrderPublic.model_validate(order), await service.history(order_id))


async def _invoice(services: ApiServices, key: str) -> Found:
    """By its number, or by its aggregate's id (a follower's set-aside item names that)."""
    service = _open(services.billing, "billing")
    if key.isdigit():
        number = int(key)
    else:
        invoice_id = UUID(key)
        number = (await asyncio.to_thread(service.application.get_invoice, invoice_id)).ref_id
    invoice = await service.get_invoice(number)
    return Found(invoice.id, InvoicePublic.of_aggregate(invoice), await service.history(number))


async def _application(services: ApiServices, key: str) -> Found:
    service, application_id = _open(services.lending, "lending"), UUID(key)
    application = await service.get(application_id)
    events = await service.history(application_id)
    return Found(application_id, ApplicationPublic.of(application), events)


async def _reimbursement(services: ApiServices, key: str) -> Found:
    service, reimbursement_id = _open(services.reimbursements, "reimbursements"), UUID(key)
    reimbursement = await service.get(reimbursement_id)
    events = await service.history(reimbursement_id)
    return Found(reimbursement_id, ReimbursementPublic.model_validate(reimbursement), events)


LOOKUPS: dict[str, Lookup] = {
    "sms": _sms,
    "orders": _order,
    "billing": _invoice,
    "lending": _application,
    "reimbursements": _reimbursement,
}
# What a client names its requests by, and the id each one derives from it and the client.
CLIENT_KEYS: dict[str, Callable[[str, str | None], UUID]] = {
    "sms": sms_id_for,
    "orders": order_id_for,
}


def by_client_key(workflow: str, client_key: str, client: str | None) -> str:
    """The id of the aggregate a client's key (SMS `message_id`, order
    `Idempotency-Key`) names; each client's keys are its own (no client: the platform's
    own requests, e.g. the reimbursements' SMS)."""
    derive = CLIENT_KEYS.get(workflow)
    if derive is None:
        raise UnknownAggregate(f"{workflow} has no client keys")
    return str(derive(client_key, client or None))


async def timeline(services: ApiServices, workflow: str, key: str) -> Timeline:
    lookup = LOOKUPS.get(workflow)
    if lookup is None:
        raise UnknownAggregate(f"no workflow {workflow!r}")
    try:
        found = await lookup(services, key)
    except ValueError:  # not an id of that workflow's kind
        raise UnknownAggregate(f"{key!r} names no aggregate of {workflow}") from None
    work = await services.status.work_of(found.aggregate_id)
    events = [
        TimelineEvent(entry.type, entry.version, entry.recorded_at, public["data"], entry.actor)
        for entry in found.events
        for public in [EventPublic.model_validate(entry).model_dump(mode="json")]
    ]
    return Timeline(
        workflow, key, found.aggregate_id, found.state.model_dump(mode="json"), events, work
    )
