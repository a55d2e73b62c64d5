"""The console's session: a browser cannot attach a bearer header to a page load, so the
token an operator pastes once is kept in a cookie the page's scripts cannot read
(HttpOnly), sent to the console alone (Path, SameSite=Strict), over TLS (Secure; plain
http is allowed on a loopback address, for development) and expiring with the token.

The cookie holds the token itself: every request is verified as a bearer one is, and a
session ends when its token does. Every POST also carries a CSRF token, an HMAC of the
session's token under the console's secret: a page of another site can make the browser
send the cookie, never read the CSRF token it must send with it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass

import jwt
from starlette.requests import cookie_parser
from starlette.responses import Response

COOKIE = "ledgerflow_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class ConsoleSessions:
    secret: bytes
    path: str = "/console"

    def csrf_token(self, token: str) -> str:
        digest = hashlib.sha256(token.encode()).digest()
        return hmac.new(self.secret, b"csrf:" + digest, hashlib.sha256).hexdigest()

    def csrf_valid(self, token: str, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(self.csrf_token(token), offered)

    def open(self, response: Response, token: str, *, now: float, secure: bool) -> None:
        """Keep `token` in the session cookie until it expires."""
        response.set_cookie(
            COOKIE,
            token,
            max_age=max(0, int(expires_at(token) - now)),
            path=self.path,
            secure=secure,
            httponly=True,
            samesite="strict",
        )

    def close(self, response: Response, *, secure: bool) -> None:
        response.delete_cookie(
            COOKIE, path=self.path, secure=secure, httponly=True, samesite="strict"
        )


def expires_at(token: str) -> float:
    """The `exp` of a token already verified (its signature is not checked again)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])


def session_token(headers: Collection[tuple[bytes, bytes]]) -> bytes | None:
    """The token the console's session cookie holds, if the request has one."""
    for name, value in headers:
        if name == b"cookie":
            token = cookie_parser(value.decode("latin-1")).get(COOKIE)
            if token:
                return token.encode()
    return None


def needs_secure(scheme: str, host: str) -> bool:
    """Secure cookies, except over plain http to this machine (development and tests)."""
    return scheme == "https" or host not in LOOPBACK_HOSTS
