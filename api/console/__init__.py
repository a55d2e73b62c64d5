"""The operator console at `/console`: pages for operators and auditors, served by the API
with every asset they use (htmx, vendored under static/ with its licence; a stylesheet).

`install_console` adds its routes and assets to an app and answers the `CookieSession`
the authentication middleware is to honour for them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.authentication import CookieSession, Verifier
from api.console.pages import (
    LOGIN_PATH,
    PREFIX,
    Refused,
    confined,
    console_router,
    templates,
)
from api.console.session import ConsoleSessions, session_token

ASSETS_PREFIX = f"{PREFIX}/static/"


def install_console(app: FastAPI, verifier: Verifier, secret: bytes) -> CookieSession:
    sessions = ConsoleSessions(secret, path=PREFIX)
    app.mount(
        ASSETS_PREFIX.rstrip("/"),
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-assets",
    )
    app.include_router(console_router(verifier, sessions))

    async def refused(request: Request, error: Exception) -> HTMLResponse:
        status = error.status if isinstance(error, Refused) else 403
        return confined(
            templates.TemplateResponse(
                request, "refused.html", {"viewer": None, "message": str(error)}, status_code=status
            )
        )

    app.add_exception_handler(Refused, refused)
    return CookieSession(prefix=PREFIX, login_path=LOGIN_PATH, read=session_token)
