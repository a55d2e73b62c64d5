"""The base of every error a command or query answers a client with.

A domain error names itself with a stable `code` (snake_case, part of the API's
contract) and a `kind` that says what went wrong in terms any interface understands.
The domain knows no HTTP: the API maps each kind to a status in one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"  # the resource (or the actor) does not exist
    FORBIDDEN = "forbidden"  # the actor may not do this
    CONFLICT = "conflict"  # the resource's state, or an earlier request, rules it out
    INVALID = "invalid"  # well-formed, but breaks a rule of the domain
    BAD_REQUEST = "bad_request"  # not a request this platform could have issued (a cursor)


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID


class NotFoundError(DomainError):
    kind = ErrorKind.NOT_FOUND


class ForbiddenError(DomainError):
    kind = ErrorKind.FORBIDDEN


class ConflictError(DomainError):
    kind = ErrorKind.CONFLICT
