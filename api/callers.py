"""Who is calling: the `Principal` the authentication middleware verified, if any.

That middleware stores it in the request's state (`scope["state"]["principal"]`); a
request it did not authenticate (or an app served without it) has none.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from domain.access import Principal


def principal_of(request: HTTPConnection) -> Principal | None:
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else None


def client_of(request: HTTPConnection) -> str | None:
    """The calling client's id (the principal's subject), `None` when unauthenticated."""
    principal = principal_of(request)
    return principal.subject if principal is not None else None


def limit_identifiers(request: HTTPConnection) -> tuple[str, str]:
    """Whom a request counts against: its principal's subject. Every limited route is
    behind authentication; a request without a principal counts as one caller."""
    principal = principal_of(request)
    return ("subject", principal.subject if principal is not None else "unauthenticated")
