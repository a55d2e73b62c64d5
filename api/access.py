"""Who may call which route, and which resources each caller reaches: the one place every
workflow's authorization is decided.

Two checks, in this order:

1. The route's `Rule` (roles, and the scope a client's token must carry), declared on the
   route itself as a dependency made by `allow(...)`, which answers the caller's
   `Principal`. A caller outside it gets 403 before anything is looked up. The guard is a
   plain `async def` of the `Request` whose work is a set lookup or two, so the lean
   route (api/lean_route.py) calls it on its fast path, as it does any such dependency.
2. After the lookup, `reach(principal, resource, missing)`: a resource outside the
   principal's reach (`Principal.reaches`) raises the resource's own not-found error, so
   it answers 404 exactly as an unknown id does. Lists are narrowed instead:
   `client_filter(principal)` limits a client to what it created.

`rule_of(route)` reads a route's rule back, for tests; `document_access(app)` shows
each rule in the OpenAPI (`x-access` and the 403).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from api.callers import principal_of
from domain.access import Owned, Principal, Role, Scope
from domain.errors import DomainError, ForbiddenError

Guard = Callable[[Request], Coroutine[Any, Any, Principal]]

_RULE = "__access_rule__"  # where a guard keeps its rule

# Operators and auditors read every resource of every workflow.
READERS = (Role.OPERATOR, Role.AUDITOR)


class Forbidden(ForbiddenError):
    """The caller's role (or a client's scopes) may never call this route."""

    code = "forbidden"


class InsufficientScope(ForbiddenError):
    """A client's token lacks the scope the route needs."""

    code = "insufficient_scope"


@dataclass(frozen=True)
class Rule:
    """The roles that may call a route; of a client, its token must carry `scope`."""

    roles: frozenset[Role]
    scope: Scope | None = None

    def check(self, principal: Principal | None) -> Principal:
        if principal is None or principal.role not in self.roles:
            raise Forbidden("this token's role may not call this route")
        if principal.role is Role.CLIENT and self.scope not in principal.scopes:
            raise InsufficientScope(f"this route needs the scope {self.scope}")
        return principal


def allow(*roles: Role, scope: Scope | None = None) -> Guard:
    """A dependency that lets `roles` through (clients only with `scope`) and answers the
    caller; anyone else is refused with 403."""
    if Role.CLIENT in roles and scope is None:
        raise ValueError("a route clients may call names the scope it needs")
    rule = Rule(frozenset(roles), scope)

    async def guard(request: Request) -> Principal:
        return rule.check(principal_of(request))

    who = "_".join(sorted(role.value for role in roles))
    guard.__name__ = f"allow_{who}" + (f"_{scope.value.replace(':', '_')}" if scope else "")
    setattr(guard, _RULE, rule)
    return guard


def rule_of(route: APIRoute) -> Rule | None:
    """The rule a route declares (`None`: none; public routes have none)."""
    guards = set(_dependency_calls(route.dependant.dependencies))  # one guard may appear twice
    rules = [rule for call in guards if (rule := getattr(call, _RULE, None)) is not None]
    if len(rules) > 1:
        raise ValueError(f"{route.path} declares {len(rules)} access rules")
    return rules[0] if rules else None


def _dependency_calls(dependants: Iterable[Any]) -> Iterable[Callable[..., Any]]:
    for dependant in dependants:
        if dependant.call is not None:
            yield dependant.call
        yield from _dependency_calls(dependant.dependencies)


def reach(principal: Principal, resource: Owned, missing: DomainError) -> None:
    """Raise `missing` (the resource's not-found error) unless `principal` reaches it."""
    if not principal.reaches(resource.owner):
        raise missing


def client_filter(principal: Principal) -> str | None:
    """What a list shows: a client only what it created; operators and auditors all
    (`None`). Other roles never reach the clients' lists (their rules refuse them)."""
    return principal.subject if principal.role is Role.CLIENT else None


# The guards of the routes that take no other rule: operator actions, and what only
# operators and auditors read; as a route's `dependencies=[Depends(...)]`, or as its
# caller (`caller: Operator`).
operators = allow(Role.OPERATOR)
readers = allow(*READERS)
Operator = Annotated[Principal, Depends(operators)]
Reader = Annotated[Principal, Depends(readers)]


def document_access(app: FastAPI) -> None:
    """Show each route's rule in the app's OpenAPI: `x-access` (its roles and scope) and
    its `403`, so a client's code generator and `/docs` tell who may call what."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe_rules(build(), _rules(app))  # `build` keeps its schema on the app
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _rules(app: FastAPI) -> dict[tuple[str, str], Rule]:
    rules: dict[tuple[str, str], Rule] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and (rule := rule_of(route)) is not None:
            for method in context.methods or ():
                rules[(method.lower(), str(context.path_format))] = rule
    return rules


def _describe_rules(schema: dict[str, Any], rules: dict[tuple[str, str], Rule]) -> None:
    refused = {
        "description": "The caller's role (or a client's scopes) may not call this route",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            rule = rules.get((method, path))
            if rule is None:
                continue
            roles = sorted(role.value for role in rule.roles)
            scope = rule.scope.value if rule.scope is not None else None
            operation["x-access"] = {"roles": roles, "client_scope": scope}
            operation.setdefault("responses", {}).setdefault("403", refused)
