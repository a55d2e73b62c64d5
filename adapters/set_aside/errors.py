"""Which errors are an event's fault, and how one is described for operators.

A follower retries a batch as it is whenever the failure is the platform's state rather
than the event's: a lost connection, a serialization failure, a deadlock, a lock or
statement timeout (psycopg's `OperationalError`s), a closed connection, or a processor's
`RetryLater` (the relay's bus being away). Any other error is the event's: its
aggregate is set aside.

An error kept for operators names its type and keeps its message's shape, without the
values it quoted (a read model's row, a phone number, an e-mail address): the event's
identity (follower, log, aggregate, version) is recorded beside it, and that is all the
record says about whom it concerns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from eventsourcing import persistence

MAX_MESSAGE = 500


class RetryLater(Exception):
    """Raised by a processor whose failure is not the events' fault (the message broker
    is away): the follower applies the same batch again later."""


TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # lost connection, serialization, deadlock, lock timeout
    psycopg.InterfaceError,  # the connection is closed
    persistence.OperationalError,  # the same, through the event store's recorder
    persistence.InterfaceError,
    OSError,  # includes ConnectionError and TimeoutError
    RetryLater,
)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT)


@dataclass(frozen=True)
class ErrorDescription:
    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


# What a message may quote: a string in quotes, an e-mail address, a long number (a
# phone, an account, an amount). UUIDs stay: they are the platform's ids, not data.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_QUOTED_OR_PERSONAL = re.compile(
    rf"""(?P<uuid>\b{_UUID.pattern}\b)"""
    r"""|(?P<quoted>"[^"]*"|'[^']*')"""
    r"""|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"""
    r"""|(?P<number>\d{6,})"""
)
REDACTED = "…"


def describe(error: BaseException) -> ErrorDescription:
    """`error`'s type and message, with the values it quoted left out. A database error
    keeps its first line only (the DETAIL that repeats the row is dropped), its SQLSTATE,
    and the names of the table, column, constraint or type it concerns."""
    if isinstance(error, psycopg.Error):
        diag = error.diag
        message = diag.message_primary or str(error).splitlines()[0]
        names = {
            name
            for name in (
                diag.schema_name,
                diag.table_name,
                diag.column_name,
                diag.constraint_name,
                diag.datatype_name,
            )
            if name
        }
        text = redact(message, keep=names)
        if error.sqlstate:
            text = f"{text} (SQLSTATE {error.sqlstate})"
    else:
        lines = str(error).splitlines()
        text = redact(lines[0], keep=set()) if lines else ""
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + REDACTED
    return ErrorDescription(type(error).__name__, text)


def redact(message: str, *, keep: set[str]) -> str:
    """`message` with quoted strings, e-mail addresses and long numbers replaced by "…";
    a quoted name in `keep` (a schema's table or column) stays."""

    def replace(match: re.Match[str]) -> str:
        if match.group("uuid"):
            return match.group(0)
        quoted = match.group("quoted")
        if quoted is not None:
            inside = quoted[1:-1]
            if inside in keep or _UUID.fullmatch(inside):
                return quoted
            return f"{quoted[0]}{REDACTED}{quoted[0]}"
        return REDACTED

    return _QUOTED_OR_PERSONAL.sub(replace, message)
