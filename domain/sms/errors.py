"""What can go wrong with an SMS command. Each names its kind; the API maps kinds to statuses."""

from __future__ import annotations

from uuid import UUID

from domain.errors import DomainError, ErrorKind
from domain.work import OutcomeNotApplicable


class SmsError(DomainError):
    code = "sms_error"


class SmsNotFound(SmsError):
    code = "sms_not_found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, sms_id: UUID | str) -> None:
        super().__init__(f"SMS {sms_id} does not exist")


class MessageIdReused(SmsError):
    """The client's message id was already used for a different SMS."""

    code = "message_id_conflict"
    kind = ErrorKind.CONFLICT

    def __init__(self, message_id: str) -> None:
        super().__init__(
            f"message_id {message_id!r} was already used with a different phone number, "
            "text or correlation id"
        )


class SmsNotRetryable(SmsError):
    code = "sms_not_parked"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str) -> None:
        super().__init__(f"only a parked SMS can be retried; this one is {status}")


class SmsAlreadyFinal(SmsError, OutcomeNotApplicable):
    code = "sms_already_final"
    kind = ErrorKind.CONFLICT

    def __init__(self, status: str) -> None:
        super().__init__(f"the SMS is already {status}; no further attempts are recorded")


class DestinationCountryNotAllowed(SmsError):
    """The client may not text numbers of this country (names neither the number nor
    the text: the reason is shown to clients and stored with dead letters)."""

    code = "destination_country_not_allowed"
    kind = ErrorKind.FORBIDDEN

    def __init__(self, country: str, client: str | None) -> None:
        who = f"client {client!r}" if client is not None else "a sender that names no client"
        super().__init__(f"Sending SMS to country {country} is not allowed for {who}")
        self.country = country
        self.client = client
