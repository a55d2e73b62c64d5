"""What can go wrong with a loan application command. Each error names its kind; the API
maps kinds to statuses."""

from __future__ import annotations

from uuid import UUID

from domain.errors import DomainError, ErrorKind


class LendingError(DomainError):
    code = "lending_error"


class ApplicationNotFound(LendingError):
    code = "application_not_found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, application_id: UUID | str) -> None:
        super().__init__(f"application {application_id} does not exist")


class ApplicationAlreadyFinal(LendingError):
    """A decision, refusal or flag arrived for an application that already ended."""

    code = "application_already_final"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str) -> None:
        super().__init__(f"the application is already {status}")


class ApplicationNotFlagged(LendingError):
    code = "application_not_flagged"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str) -> None:
        super().__init__(
            f"only an application that needs attention can be polled again; this one is {status}"
        )
