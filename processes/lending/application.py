"""The lending application service: submit an application, read it, record what the
poller found (each exactly once), and let an operator poll a flagged one again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.access import Actor
from domain.clock import Clock
from domain.lending.aggregate import LoanApplication
from domain.lending.commands import (
    FlagApplication,
    PollerResult,
    RecordApplicationDecision,
    RecordSubmissionAttemptFailed,
    RecordSubmissionRefused,
    SubmitApplication,
)
from domain.lending.errors import ApplicationNotFound
from processes.applications import WorkflowApplication
from processes.audit import AuditEntry, audit_trail

SaveAggregates = Callable[..., Awaitable[None]]
# Two writers of one application (two ingesters) collide on its version: reload and redo.
CONFLICT_RETRIES = 3


class LendingApplication(WorkflowApplication):
    name = "lending"

    def get_application(self, application_id: UUID) -> LoanApplication:
        try:
            application: LoanApplication = self.repository.get(application_id)
        except AggregateNotFoundError:
            raise ApplicationNotFound(application_id) from None
        return application


class LendingService:
    """Commands of the lending workflow. `save` group-commits (adapters.eventstore)."""

    def __init__(self, application: LendingApplication, save: SaveAggregates, clock: Clock) -> None:
        self.application = application
        self._save = save
        self.clock = clock

    async def submit(self, command: SubmitApplication, actor: Actor) -> LoanApplication:
        application = LoanApplication(
            first_name=command.first_name,
            last_name=command.last_name,
            amount=command.amount.amount,
            currency=command.amount.currency,
            term_months=command.term_months,
            email=command.email,
            submitted_at=self.clock.now(),
            actor=actor,
            client=actor.client,
        )
        await self._save(application)
        return application

    async def get(self, application_id: UUID) -> LoanApplication:
        return await asyncio.to_thread(self.application.get_application, application_id)

    async def history(self, application_id: UUID) -> list[AuditEntry]:
        entries = await asyncio.to_thread(audit_trail, self.application, application_id)
        if not entries:
            raise ApplicationNotFound(application_id)
        return entries

    async def resume_polling(self, application_id: UUID, actor: Actor) -> LoanApplication:
        application = await self.get(application_id)
        application.resume_polling(self.clock.now(), actor=actor)
        await self._save(application)
        return application

    async def record(self, result: PollerResult, actor: Actor) -> bool:
        """Apply one of the poller's results, sent by `actor`; answers whether an event was recorded
        (False for a repeat). Raises `ApplicationAlreadyFinal` for a contradiction."""
        for attempt in range(CONFLICT_RETRIES):
            application = await self.get(result.application_id)
            now = self.clock.now()
            if isinstance(result, RecordApplicationDecision):
                changed = application.record_decision(
                    result.status, result.job_id, now, actor=actor
                )
            elif isinstance(result, RecordSubmissionRefused):
                changed = application.record_refusal(result.error, now, actor=actor)
            elif isinstance(result, RecordSubmissionAttemptFailed):
                changed = application.record_submission_failure(
                    result.round, result.attempt, result.error, now, actor=actor
                )
            elif isinstance(result, FlagApplication):
                changed = application.flag(result.reason, now, actor=actor)
            if not changed:
                return False
            try:
                await self._save(application)
            except IntegrityError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                continue
            return True
        return False  # pragma: no cover - the loop returns or raises
