"""Operators' actions on what waits for them, one implementation for the API's routes, the
console and the command line: each goes through the workflow's own service (or the
set-aside desk), the same call its own API route makes.

Which call retries an item depends on its workflow and why it waits (`RETRIES`); a dead
letter is replayed or discarded instead. Retrying every parked item of a kind of work
(`retry_parked`) is the same list filtered to where that kind's work waits (`PARKED_WORK`),
retried through the same table. The operator is passed on to the services, which
record it on the events they make, and every action is logged with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from adapters.attention import AttentionFilter, AttentionItem, AttentionKind, AttentionReader
from adapters.messaging.dead_letter_desk import DeadLetterDesk, Decided
from api.services import ApiServices
from domain.access import Actor
from domain.billing.commands import ResolutionAction
from domain.errors import DomainError, NotFoundError
from processes.billing.charging import CHARGE
from processes.lending.poller import ASSESS
from processes.reimbursements.payment import START_PAYMENT
from processes.sms.dispatch import SEND_SMS

log = logging.getLogger(__name__)
T = TypeVar("T")

Retry = Callable[[ApiServices, str, Actor], Awaitable[None]]

IN_FLIGHT = 50  # retries at once: each is a read and a group-committed save


class NotRetryable(DomainError):
    code = "not_retryable"

    def __init__(self, workflow: str, kind: str) -> None:
        super().__init__(f"a {kind.replace('_', ' ')} of {workflow} has no retry")


def actor_name(actor: Actor) -> str:
    """How the set-aside desk records who asked: role and subject."""
    return f"{actor.role}:{actor.subject}"


async def _sms(services: ApiServices, key: str, actor: Actor) -> None:
    await _served(services.sms, "sms").service.retry(UUID(key), actor)


async def _application(services: ApiServices, key: str, actor: Actor) -> None:
    await _served(services.lending, "lending").service.resume_polling(UUID(key), actor)


async def _invoice(services: ApiServices, key: str, actor: Actor) -> None:
    await resolve_invoice(services, int(key), "retry", f"retried by {actor_name(actor)}", actor)


async def _payment(services: ApiServices, key: str, actor: Actor) -> None:
    await _served(services.reimbursements, "reimbursements").service.retry_payment(UUID(key), actor)


async def _set_aside(services: ApiServices, key: str, actor: Actor) -> None:
    await services.set_aside.retry(int(key), actor=actor_name(actor), now=services.clock.now())


RETRIES: dict[tuple[str | None, AttentionKind], Retry] = {
    ("sms", AttentionKind.PARKED): _sms,
    ("lending", AttentionKind.NEEDS_ATTENTION): _application,
    ("billing", AttentionKind.NEEDS_ATTENTION): _invoice,
    ("reimbursements", AttentionKind.PAYMENT_FAILED): _payment,
    (None, AttentionKind.SET_ASIDE): _set_aside,  # any workflow's
}


# A kind of work whose items wait for an operator when it gives up -> where they wait.
PARKED_WORK: dict[str, tuple[str, AttentionKind]] = {
    SEND_SMS: ("sms", AttentionKind.PARKED),  # its retry budget spent
    ASSESS: ("lending", AttentionKind.NEEDS_ATTENTION),  # polling the lender gave up
    CHARGE: ("billing", AttentionKind.NEEDS_ATTENTION),  # a charge that cannot go on alone
    START_PAYMENT: ("reimbursements", AttentionKind.PAYMENT_FAILED),  # the rail refused it
}


class UnknownParkedKind(NotFoundError):
    code = "unknown_parked_kind"

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"no parked work of kind {kind!r} can be retried (kinds: {', '.join(PARKED_WORK)})"
        )
        self.work_kind = kind


def retry_of(workflow: str, kind: AttentionKind) -> Retry | None:
    return RETRIES.get((workflow, kind)) or RETRIES.get((None, kind))


async def retry(
    services: ApiServices, workflow: str, kind: AttentionKind, key: str, actor: Actor
) -> None:
    """Retry one waiting item through its workflow's service."""
    do = retry_of(workflow, kind)
    if do is None:
        raise NotRetryable(workflow, kind)
    try:
        await do(services, key, actor)
    except IntegrityError:  # a concurrent write (a late outcome): read it again, once
        await do(services, key, actor)
    log.info("%s retried %s %s %s", actor_name(actor), workflow, kind, key)


@dataclass(frozen=True)
class RetryOutcome:
    item: AttentionItem
    error: str | None  # None: retried


@dataclass(frozen=True)
class RetriedParked:
    kind: str
    retried: int
    skipped: int  # no longer parked when their turn came


async def retry_all(
    services: ApiServices, only: AttentionFilter, actor: Actor, *, limit: int | None = 500
) -> list[RetryOutcome]:
    """Retry every retryable item `only` admits (at most `limit` of each source; None:
    all), oldest first; one that cannot be retried any more (taken care of meanwhile)
    says why and the others go on."""
    items = await attention_of(services).items(only, limit=limit)
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def attempt(item: AttentionItem) -> RetryOutcome:
        async with slots:
            try:
                await retry(services, item.workflow, item.kind, item.key, actor)
            except (DomainError, IntegrityError) as error:  # taken care of meanwhile
                return RetryOutcome(item, str(error))
            return RetryOutcome(item, None)

    return list(
        await asyncio.gather(
            *(attempt(item) for item in items if retry_of(item.workflow, item.kind) is not None)
        )
    )


async def retry_parked(services: ApiServices, kind: str, actor: Actor) -> RetriedParked:
    """Every item of the kind of work `kind` waiting for an operator now, retried on behalf
    of `actor`; one no longer waiting when its turn came is skipped, not retried twice."""
    where = PARKED_WORK.get(kind)
    if where is None:
        raise UnknownParkedKind(kind)
    workflow, waiting = where
    outcomes = await retry_all(services, AttentionFilter(workflow, waiting), actor, limit=None)
    retried = sum(outcome.error is None for outcome in outcomes)
    return RetriedParked(kind, retried, len(outcomes) - retried)


async def resolve_invoice(
    services: ApiServices, invoice: int, action: ResolutionAction, note: str, actor: Actor
) -> None:
    await _served(services.billing, "billing").service.resolve(invoice, action, note, actor)
    log.info("%s resolved invoice %s: %s", actor_name(actor), invoice, action)


async def skip_set_aside(services: ApiServices, item_id: int, reason: str, actor: Actor) -> None:
    now = services.clock.now()
    await services.set_aside.skip(item_id, actor=actor_name(actor), now=now, reason=reason)
    log.info("%s skipped set-aside item %s", actor_name(actor), item_id)


async def replay_dead_letter(
    services: ApiServices, key: str, actor: Actor, note: str | None = None
) -> Decided:
    """Put a dead-lettered command back on its queue (`Decided.back_on`), recorded."""
    now = services.clock.now()
    decided = await dead_letters_of(services).replay(key, actor, now, note)
    log.info("%s replayed dead letter %s onto %s", actor_name(actor), key, decided.back_on)
    return decided


async def discard_dead_letter(
    services: ApiServices, key: str, actor: Actor, note: str | None = None
) -> Decided:
    now = services.clock.now()
    decided = await dead_letters_of(services).discard(key, actor, now, note)
    log.info("%s discarded dead letter %s", actor_name(actor), key)
    return decided


def dead_letters_of(services: ApiServices) -> DeadLetterDesk:
    if services.dead_letters is None:
        raise LookupError("this process does not keep dead letters")
    return services.dead_letters


def attention_of(services: ApiServices) -> AttentionReader:
    if services.attention is None:
        raise LookupError("this process does not read what waits for operators")
    return services.attention


def _served(workflow: T | None, name: str) -> T:
    if workflow is None:
        raise LookupError(f"the {name} workflow is not open in this process")
    return workflow
