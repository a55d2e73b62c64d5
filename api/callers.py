"""Who is calling: the `Principal` the authentication middleware verified, if any.

That middleware stores it in the request's state (`scope["state"]["principal"]`); a
request it did not authenticate (or an app served without it) has none.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from domain.access import Actor, Principal

# The actor of a request no authentication saw (an app served without the middleware):
# recorded as such rather than as anyone in particular.
UNAUTHENTICATED = Actor(role="none", subject="unauthenticated")


def principal_of(request: HTTPConnection) -> Principal | None:
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else None


def actor_of(request: HTTPConnection) -> Actor:
    """Who the commands of a request are recorded as: its principal's actor (the token's
    role and subject)."""
    principal = principal_of(request)
    return principal.actor if principal is not None else UNAUTHENTICATED


def client_of(request: HTTPConnection) -> str | None:
    """The calling client's id (the principal's subject), `None` when unauthenticated."""
    principal = principal_of(request)
    return principal.subject if principal is not None else None


def limit_identifiers(request: HTTPConnection) -> tuple[str, str]:
    """Whom a request counts against: its principal's subject. Every limited route is
    behind authentication; a request without a principal counts as one caller."""
    principal = principal_of(request)
    return ("subject", principal.subject if principal is not None else "unauthenticated")
