"""`BankPartner` over HTTP, against the partner's real contract (docs/third-parties.md,
"Bank partner").

- `POST /api/applications`: 201 submitted; 400 "the application ID is already used" is a
  success too (our earlier submission got through but its answer was lost); any other
  400 is a refusal (`ProviderRejected`).
- `GET /api/jobs?application_id=...`: 200 the job; 404 the partner does not know it.
- 5xx, 408/425/429 and connection errors are transient; a request that went out without
  an answer is `OutcomeUnknown`. Names are never logged.
"""

from __future__ import annotations

import logging
from typing import Any, get_args
from uuid import UUID

import httpx

from adapters.outbound_http import error_text, party_text, send, status_error
from domain.lending.ports import (
    ApplicationUnknownToPartner,
    Job,
    JobStatus,
    PartnerApplication,
)
from domain.outbound import ProviderUnavailable

log = logging.getLogger(__name__)

PARTY = "bank partner"
ALREADY_USED = "the application ID is already used"
JOB_STATUSES: frozenset[str] = frozenset(get_args(JobStatus))


class HttpBankPartner:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    async def submit(self, application: PartnerApplication) -> None:
        body = {
            "id": str(application.id),
            "first_name": application.first_name,
            "last_name": application.last_name,
        }
        response = await self._call("POST", "/api/applications", json=body)
        status = response.status_code
        if status in (200, 201):
            return
        error = error_text(response)
        if status == 400 and error == ALREADY_USED:
            log.info("application already at the partner", extra={"application_id": body["id"]})
            return
        raise status_error(status, error, party=PARTY, what="submission")

    async def job(self, application_id: UUID) -> Job:
        response = await self._call(
            "GET", "/api/jobs", params={"application_id": str(application_id)}
        )
        status = response.status_code
        if status == 404:
            raise ApplicationUnknownToPartner(error_text(response))
        if status != 200:
            raise status_error(status, error_text(response), party=PARTY, what="job status")
        try:
            body = response.json()
            job = Job(
                id=str(body["id"]),
                application_id=UUID(str(body["application_id"])),
                status=body["status"],
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ProviderUnavailable(f"bank partner answered a malformed job: {error}") from error
        if job.status not in JOB_STATUSES or job.application_id != application_id:
            # The fields we read, not the body: it may carry the applicant's name.
            raise ProviderUnavailable(
                f"bank partner answered an unexpected job: status {party_text(job.status)!r}"
                f" for application {job.application_id}"
            )
        return job

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, self._base + path, party=PARTY, **kwargs)
