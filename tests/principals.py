"""A stand-in for the authentication middleware in tests: the client a request names in
its `X-Test-Client` header becomes its `Principal` (a `client`), in the request's state
(`scope["state"]["principal"]`), where the authentication middleware puts it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from domain.access import Principal, Role

HEADER = b"x-test-client"


class TestPrincipal:
    __test__ = False  # not a test class

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == HEADER:
                    principal = Principal(role=Role.CLIENT, subject=value.decode())
                    scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def as_client(client: str) -> dict[str, str]:
    """The headers naming `client` to `TestPrincipal`."""
    return {"X-Test-Client": client}
