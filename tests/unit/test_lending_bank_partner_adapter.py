"""`HttpBankPartner` against `httpx.MockTransport`: every answer mapped to the port's terms."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import httpx
import pytest

from adapters.bank_partner import HttpBankPartner
from domain.lending.ports import ApplicationUnknownToPartner, Job, PartnerApplication
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable

APPLICATION = PartnerApplication(id=uuid.uuid4(), first_name="Amina", last_name="Okafor")
Handler = Callable[[httpx.Request], httpx.Response]


def partner(handler: Handler) -> HttpBankPartner:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpBankPartner(client, "http://partner")


def answer(status: int, body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def test_submit_posts_our_id_and_the_names() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={**json.loads(request.content), "status": "pending"})

    asyncio.run(partner(handler).submit(APPLICATION))
    assert seen[0].method == "POST" and seen[0].url.path == "/api/applications"
    assert json.loads(seen[0].content) == {
        "id": str(APPLICATION.id),
        "first_name": "Amina",
        "last_name": "Okafor",
    }


def test_already_used_after_a_lost_answer_is_a_success() -> None:
    handler = answer(400, {"error": "the application ID is already used"})
    asyncio.run(partner(handler).submit(APPLICATION))  # no error


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (answer(400, {"error": "the request payload is not valid."}), ProviderRejected),
        (answer(503, {"error": "down"}), ProviderUnavailable),
        (answer(429, {"error": "slow down"}), ProviderUnavailable),
    ],
)
def test_submit_errors(handler: Handler, error: type[Exception]) -> None:
    with pytest.raises(error):
        asyncio.run(partner(handler).submit(APPLICATION))


def test_transport_errors_say_whether_the_request_went_out() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("closed", request=request)

    with pytest.raises(ProviderUnavailable):
        asyncio.run(partner(refused).submit(APPLICATION))
    with pytest.raises(OutcomeUnknown):
        asyncio.run(partner(dropped).submit(APPLICATION))


def test_job_reads_the_status_and_the_job_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"id": "job-7", "application_id": str(APPLICATION.id), "status": "completed"}
        return httpx.Response(200, json=body)

    job = asyncio.run(partner(handler).job(APPLICATION.id))
    assert job == Job(id="job-7", application_id=APPLICATION.id, status="completed")
    assert seen[0].url.path == "/api/jobs"
    assert seen[0].url.params["application_id"] == str(APPLICATION.id)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (
            answer(404, {"error": "failed to get job, the application_id doesn't exist."}),
            ApplicationUnknownToPartner,
        ),
        (answer(500, {"error": "boom"}), ProviderUnavailable),
        (answer(200, {"id": "j", "application_id": "x", "status": "pending"}), ProviderUnavailable),
        (answer(200, {"id": "j", "status": "maybe"}), ProviderUnavailable),
        (answer(400, {"error": "application_id is not a valid uuid"}), ProviderRejected),
    ],
)
def test_job_errors(handler: Handler, error: type[Exception]) -> None:
    with pytest.raises(error):
        asyncio.run(partner(handler).job(APPLICATION.id))
