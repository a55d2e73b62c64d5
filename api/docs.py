"""`/docs` (Swagger UI) and `/redoc`, served with their scripts and styles from the platform
itself, so they render where there is no internet (FastAPI's own pages load them from a
CDN).

The assets are those the `fastapi-offline` package ships (Swagger UI 5, ReDoc 2, and
FastAPI's icon), served under `ASSETS_PREFIX` straight from the installed package: they
are locked with the rest of the dependencies, and `make lock` updates them. The pages are
FastAPI's own HTML, pointed at those assets; Google Fonts, which ReDoc's page would load
by default, are left out. Each page also carries a Content-Security-Policy that lets it
load and call nothing but the platform: ReDoc's sidebar shows a logo from its vendor's CDN,
which the browser then never fetches (the image hides itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"
ASSETS_PREFIX = "/docs-assets/"

SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

# FastAPI's pages start the UI from an inline script; ReDoc writes its styles inline and
# runs its search in a worker made from a blob; images include inline SVGs.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    )
)


@dataclass(frozen=True)
class DocsRoutes:
    """What `install_docs` serves, for the authentication to let through."""

    pages: tuple[str, ...]
    assets_prefix: str


def assets_directory() -> Path:
    """Where the installed `fastapi-offline` keeps the assets."""
    return Path(str(files("fastapi_offline").joinpath("static")))


def install_docs(app: FastAPI) -> DocsRoutes:
    """Serve the docs pages and their assets on `app`, built with `docs_url=None` and
    `redoc_url=None` (so FastAPI adds no pages of its own)."""
    app.mount(
        ASSETS_PREFIX.rstrip("/"), StaticFiles(directory=assets_directory()), name="docs-assets"
    )
    openapi_url = app.openapi_url or "/openapi.json"

    def asset(request: Request, name: str) -> str:
        # Behind a proxy that serves the API under a prefix, links keep that prefix.
        return f"{request.scope.get('root_path', '')}{ASSETS_PREFIX}{name}"

    # Plain Starlette routes, as FastAPI's own docs pages are: no operations of the API.
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_js_url=asset(request, SWAGGER_JS),
            swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON),
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return _confined(page)

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return _confined(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, REDOC_JS),
            redoc_favicon_url=asset(request, FAVICON),
            with_google_fonts=False,
        )
        return _confined(page)

    app.add_route(SWAGGER_UI_PATH, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_PATH, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
    return DocsRoutes(
        pages=(SWAGGER_UI_PATH, OAUTH2_REDIRECT_PATH, REDOC_PATH), assets_prefix=ASSETS_PREFIX
    )


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
