"""What can go wrong with a loan application command. The API maps these to HTTP statuses."""

from __future__ import annotations

from uuid import UUID


class LendingError(Exception):
    code = "lending_error"


class ApplicationNotFound(LendingError):
    code = "application_not_found"

    def __init__(self, application_id: UUID | str) -> None:
        super().__init__(f"application {application_id} does not exist")


class ApplicationAlreadyFinal(LendingError):
    """A decision, refusal or flag arrived for an application that already ended."""

    code = "application_already_final"

    def __init__(self, status: str) -> None:
        super().__init__(f"the application is already {status}")


class ApplicationNotFlagged(LendingError):
    code = "application_not_flagged"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"only an application that needs attention can be polled again; this one is {status}"
        )
