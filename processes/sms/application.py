"""The SMS application service: accept `SendSms`, read an SMS, retry a parked one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.access import Actor
from domain.clock import Clock
from domain.sms.aggregate import Sms
from domain.sms.commands import SendSms
from domain.sms.destinations import AllowedCountries
from domain.sms.errors import MessageIdReused, SmsNotFound
from processes.applications import WorkflowApplication
from processes.audit import AuditEntry, audit_trail

SaveAggregates = Callable[..., Awaitable[None]]


class SmsApplication(WorkflowApplication):
    name = "sms"

    def get_sms(self, sms_id: UUID) -> Sms:
        try:
            sms: Sms = self.repository.get(sms_id)
        except AggregateNotFoundError:
            raise SmsNotFound(sms_id) from None
        return sms


class SmsService:
    """Commands of the SMS workflow. `save` group-commits (adapters.eventstore).

    `send` is the one way in for `POST /sms` and the command queue alike, so the rules
    on who may text where (`allowed_countries`) are checked here, once for both."""

    def __init__(
        self,
        application: SmsApplication,
        save: SaveAggregates,
        clock: Clock,
        allowed_countries: AllowedCountries | None = None,
    ) -> None:
        self.application = application
        self._save = save
        self.clock = clock
        self.allowed_countries = allowed_countries or AllowedCountries()

    async def send(self, command: SendSms, actor: Actor) -> tuple[Sms, bool]:
        """Record the request of `actor` (a client, or the platform's own process, by its
        subject); answer the SMS and whether this call created it.

        The SMS id follows from the client and its message id, so a repeat collides with
        the stored first version: the same body returns the existing SMS, another body
        conflicts; another client's same message id is another SMS.
        A destination the client may not text is refused before anything is recorded.
        """
        self.allowed_countries.check(actor.subject, command.phone_number)
        sms = Sms(
            message_id=command.message_id,
            phone_number=command.phone_number,
            text=command.text,
            correlation_id=command.correlation_id,
            requested_at=self.clock.now(),
            actor=actor,
            client=actor.client,
        )
        try:
            await self._save(sms)
        except IntegrityError:
            existing = await self.get(sms.id)
            if existing.fingerprint != sms.fingerprint:
                raise MessageIdReused(command.message_id) from None
            return existing, False
        return sms, True

    async def get(self, sms_id: UUID) -> Sms:
        return await asyncio.to_thread(self.application.get_sms, sms_id)

    async def retry(self, sms_id: UUID, actor: Actor) -> Sms:
        sms = await self.get(sms_id)
        sms.retry(self.clock.now(), actor=actor)
        await self._save(sms)
        return sms

    async def history(self, sms_id: UUID) -> list[AuditEntry]:
        entries = await asyncio.to_thread(audit_trail, self.application, sms_id)
        if not entries:
            raise SmsNotFound(sms_id)
        return entries
