"""`JsonBodies`: a request that sends a body must send JSON, or it answers 415 in the
platform's error envelope (`code: "unsupported_media_type"`).

Every operation of the API that takes a body takes JSON, so the check needs no route:
a `POST`, `PUT` or `PATCH` with a body (a `Content-Length` over 0, or chunked) and a
`Content-Type` other than `application/json` (or `application/<...>+json`) is refused
before the app reads it. A request without a body passes (`POST /sms/{id}/retry`), as
does any under `exempt_prefixes` (the operator console's pages post HTML forms).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response

UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
WITH_BODIES = frozenset({"POST", "PUT", "PATCH"})


class JsonBodies:
    def __init__(self, app: ASGIApp, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WITH_BODIES
            or (self.exempt_prefixes and scope["path"].startswith(self.exempt_prefixes))
        ):
            await self.app(scope, receive, send)
            return
        has_body, content_type = False, b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                has_body = has_body or value.strip() not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-type":
                content_type = value
        if has_body and not is_json(content_type):
            response = error_response(
                415,
                "The request body must be JSON (Content-Type: application/json)",
                UNSUPPORTED_MEDIA_TYPE,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )
