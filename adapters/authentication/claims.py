"""A verified token's claims as the platform's `Principal`.

Where the roles and the scopes sit is configurable (`ClaimPaths`), as a dotted path into
the claims: `roles` for a flat claim, `realm_access.roles` for Keycloak's realm roles.
Either may be a JSON list or one space-separated string. The role's own claims
(`member_id`, `bank_id`, `administrator_id`) are top-level UUIDs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from domain.access import TOKEN_ROLES, Principal, Role


class InvalidClaims(ValueError):
    """The token's claims do not say who is calling (e.g. a `member_id` that is no id)."""


@dataclass(frozen=True)
class ClaimPaths:
    roles: str = "roles"
    scope: str = "scope"


def principal_from(claims: Mapping[str, object], paths: ClaimPaths) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClaims("the token names no subject")
    roles = {Role(name) for name in _words(_at(claims, paths.roles)) if name in _ROLE_NAMES}
    return Principal(
        role=roles.pop() if len(roles) == 1 else None,
        subject=subject,
        scopes=frozenset(_words(_at(claims, paths.scope))),
        member_id=_uuid(claims, "member_id"),
        bank_id=_uuid(claims, "bank_id"),
        administrator_id=_uuid(claims, "administrator_id"),
    )


_ROLE_NAMES = frozenset(role.value for role in TOKEN_ROLES)


def _at(claims: Mapping[str, object], path: str) -> object:
    value: object = claims
    for name in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _words(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def _uuid(claims: Mapping[str, object], name: str) -> UUID | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidClaims(f"the token's {name} is not an id") from None
