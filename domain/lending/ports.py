"""The `BankPartner` port: hand an application to the partner, ask how its job stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

JobStatus = Literal["pending", "completed", "rejected"]


@dataclass(frozen=True)
class PartnerApplication:
    id: UUID  # ours, and the partner's too
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Job:
    id: str  # the partner's job id (not the application id)
    application_id: UUID
    status: JobStatus


class ApplicationUnknownToPartner(Exception):
    """The partner has no such application (job status 404)."""


class BankPartner(Protocol):
    async def submit(self, application: PartnerApplication) -> None:
        """Submit; returns also when the partner already has this id (a retry after a
        lost answer). Raises `ProviderRejected` (the payload was refused),
        `ProviderUnavailable` or `OutcomeUnknown` (see `domain.outbound`)."""

    async def job(self, application_id: UUID) -> Job:
        """The assessment's current state. Raises `ApplicationUnknownToPartner`,
        `ProviderUnavailable` or `OutcomeUnknown`."""
