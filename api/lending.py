"""`/applications`: submit a loan application, read it, list them, read its history, and
poll a flagged one again (operator action)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.access import Operator, allow, client_filter, reach
from api.audit import EventPublic
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Lending, Limit
from api.errors import responses
from api.idempotency import Idempotent, IdempotentRoute
from api.pages import Page
from api.read_your_writes import reads
from domain.access import Principal, Role, Scope
from domain.lending.commands import SubmitApplication
from domain.lending.errors import ApplicationNotFound
from domain.money import Money

log = logging.getLogger(__name__)

router = APIRouter(prefix="/applications", tags=["loan applications"], route_class=IdempotentRoute)

# Clients submit and read their own applications; operators and auditors read everyone's.
Submitter = Annotated[Principal, Depends(allow(Role.CLIENT, scope=Scope.APPLICATIONS_WRITE))]
Reader = Annotated[
    Principal,
    Depends(allow(Role.CLIENT, Role.OPERATOR, Role.AUDITOR, scope=Scope.APPLICATIONS_READ)),
]

ApplicationStatusName = Literal["pending", "completed", "rejected", "failed", "needs_attention"]


class ApplicationCreate(SubmitApplication):
    """The body of `POST /applications`."""


APPLICATION_EXAMPLE: JsonDict = {
    "id": "5b0e7c2a-4d1f-4a8e-9c3b-2f6d8e1a7b90",
    "first_name": "Amina",
    "last_name": "Okafor",
    "amount": {"amount": "15000.00", "currency": "EUR"},
    "term_months": 36,
    "email": "amina.okafor@example.com",
    "status": "completed",
    "job_id": "0f3c9a51-7e2b-4c8d-a1f6-93b2d4e5c7a8",
    "note": None,
    "attempts": 1,
    "last_error": "ProviderUnavailable: bank partner answered 503 to the submission: "
    "Service Unavailable",
    "submitted_at": "2026-11-21T10:00:00Z",
    "decided_at": "2026-11-21T10:00:12Z",
}


class ApplicationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [APPLICATION_EXAMPLE]})

    id: UUID
    first_name: str
    last_name: str
    amount: Money
    term_months: int
    email: str
    status: ApplicationStatusName
    job_id: str | None
    note: str | None
    attempts: int = Field(
        description="Submission attempts that did not get through to the partner so far "
        "(this round: an operator's retry starts counting again); 0 when the first did."
    )
    last_error: str | None = Field(description="Why the last of those attempts failed.")
    submitted_at: datetime
    decided_at: datetime | None

    # Built by hand: the aggregate and its row carry the amount and its currency apart.
    @classmethod
    def of(cls, application: Any) -> ApplicationPublic:
        """From the aggregate or a read-model row: both carry these attributes."""
        amount: Decimal = application.amount
        return cls(
            id=application.id,
            first_name=application.first_name,
            last_name=application.last_name,
            amount=Money.stored(amount, application.currency),
            term_months=application.term_months,
            email=application.email,
            status=application.status,
            job_id=application.job_id,
            note=application.note,
            attempts=application.attempts,
            last_error=application.last_error,
            submitted_at=application.submitted_at,
            decided_at=application.decided_at,
        )


@router.post(
    "",
    status_code=201,
    response_model=ApplicationPublic,
    responses=responses(409),
    dependencies=[Idempotent],
    summary="Submit a loan application",
    description="Records the application (status `pending`) and answers at once; the "
    "poller service submits it to the bank partner under this id and polls its job until "
    "it is `completed` or `rejected`. `failed`: the partner refused the submission; "
    "`needs_attention`: no decision by the deadline (the note says whether the partner "
    "ever accepted the submission). `attempts` and `last_error` show submissions that did "
    "not get through.",
)
async def submit_application(
    body: ApplicationCreate, lending: Lending, caller: Submitter
) -> ApplicationPublic:
    application = await lending.service.submit(body, caller.actor)
    log.info("application submitted", extra={"application_id": str(application.id)})
    return ApplicationPublic.of(application)


class ApplicationPage(Page[ApplicationPublic]):
    """A page of loan applications, oldest first."""


@router.get(
    "",
    response_model=ApplicationPage,
    dependencies=[reads("lending", "lending_applications")],
    summary="List applications, oldest first",
    description="Reads the `lending_applications` read model, a fraction of a second "
    "behind the events: filter by `status`, page with `limit` and `cursor`.",
    responses=responses(400),
)
async def list_applications(
    lending: Lending,
    caller: Reader,
    status: Annotated[
        ApplicationStatusName | None, Query(description="Only applications in this status.")
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ApplicationPage:
    page = await lending.queries.list(
        status=status, limit=limit, cursor=cursor, client=client_filter(caller)
    )
    return ApplicationPage(
        items=[ApplicationPublic.of(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{application_id}",
    response_model=ApplicationPublic,
    responses=responses(404),
    summary="Read one application (always current: read from its events)",
    description="The application as its events make it now: the partner's job id and "
    "decision once they are known; 404 for an unknown id, or another client's.",
)
async def get_application(
    application_id: UUID, lending: Lending, caller: Reader
) -> ApplicationPublic:
    application = await lending.service.get(application_id)
    reach(caller, application, ApplicationNotFound(application_id))
    return ApplicationPublic.of(application)


@router.post(
    "/{application_id}/retry",
    response_model=ApplicationPublic,
    status_code=202,
    responses=responses(404, 409),
    dependencies=[Idempotent],
    summary="Poll an application that needs attention again (operator action)",
    description="Sends a `needs_attention` application (still undecided at its deadline) "
    "back to `pending`: the poller asks the bank partner again, with a new deadline. 409 "
    "when the application is not flagged.",
)
async def retry_application(
    application_id: UUID, lending: Lending, caller: Operator
) -> ApplicationPublic:
    application = await lending.service.resume_polling(application_id, caller.actor)
    log.info("polling resumed by operator", extra={"application_id": str(application.id)})
    return ApplicationPublic.of(application)


@router.get(
    "/{application_id}/events",
    response_model=list[EventPublic],
    responses=responses(404),
    summary="The application's audit trail: every event, in order",
    description="Every event of the application in version order: submitted, decided, "
    "refused by the partner, flagged, polling resumed.",
)
async def application_events(
    application_id: UUID, lending: Lending, caller: Reader
) -> list[EventPublic]:
    reach(caller, await lending.service.get(application_id), ApplicationNotFound(application_id))
    return [
        EventPublic.model_validate(entry) for entry in await lending.service.history(application_id)
    ]
