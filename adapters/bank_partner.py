"""`BankPartner` over HTTP, against CONTRACTS.md section 2 (the partner's real contract).

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

from domain.lending.bank_partner import (
    ApplicationUnknownToPartner,
    Job,
    JobStatus,
    PartnerApplication,
)
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable

log = logging.getLogger(__name__)

ALREADY_USED = "the application ID is already used"
TRANSIENT_4XX = frozenset({408, 425, 429})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
JOB_STATUSES: frozenset[str] = frozenset(get_args(JobStatus))
MAX_DETAIL = 200


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
        error = _error_text(response)
        if status == 400 and error == ALREADY_USED:
            log.info("application already at the partner", extra={"application_id": body["id"]})
            return
        _raise_for(status, error, "submission")

    async def job(self, application_id: UUID) -> Job:
        response = await self._call(
            "GET", "/api/jobs", params={"application_id": str(application_id)}
        )
        status = response.status_code
        if status == 404:
            raise ApplicationUnknownToPartner(_error_text(response))
        if status != 200:
            _raise_for(status, _error_text(response), "job status")
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
            raise ProviderUnavailable(f"bank partner answered an unexpected job: {body!r}"[:300])
        return job

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(method, self._base + path, **kwargs)
        except NOT_SENT as error:
            raise ProviderUnavailable(f"bank partner unreachable: {_describe(error)}") from error
        except httpx.TransportError as error:
            raise OutcomeUnknown(f"no answer from the bank partner: {_describe(error)}") from error


def _raise_for(status: int, error: str, what: str) -> None:
    if status >= 500 or status in TRANSIENT_4XX:
        raise ProviderUnavailable(f"bank partner answered {status} to the {what}: {error}")
    if 400 <= status < 500:
        raise ProviderRejected(f"bank partner refused the {what} ({status}): {error}")
    raise OutcomeUnknown(f"bank partner answered an unexpected {status} to the {what}: {error}")


def _describe(error: httpx.HTTPError) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        text = str(body.get("error") or body) if isinstance(body, dict) else str(body)
    except ValueError:
        text = response.text
    return text[:MAX_DETAIL]
