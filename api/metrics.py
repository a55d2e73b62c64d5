"""`RequestMetrics`: every HTTP request counted and timed by route, method and status, as a
pure ASGI middleware (a few microseconds a request: the busiest endpoint serves
thousands a second).

The route is its path template (`/sms/{sms_id}`), never the raw path, so the series stay
few. Starlette puts the matched route in `scope["route"]` while routing; a route of a
router included in another keeps its own path there, so the templates are taken once
from the app's routes as served (FastAPI's `iter_route_contexts`: every inclusion's
prefix applied). A request answered before routing (401, 413) is matched against the
same templates; one that matches none is `unmatched`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import Histogram
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
# Any other method is `OTHER`: a caller must not be able to make series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Histogram(
    "ledgerflow_http_request_duration_seconds",
    "HTTP requests served by the API, by route (its path template), method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class RouteTemplates:
    """The path template of each route of an app, as served."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._by_route: dict[int, str | None] = {}  # None: served under several templates
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for context in iter_route_contexts(list(routes)):
            template = context.path_format
            if not isinstance(template, str):
                continue
            key = id(context.original_route)
            known = self._by_route.get(key, template)
            self._by_route[key] = template if known == template else None
            self._patterns.append((compile_path(template)[0], template))

    def of(self, route: object, path: str) -> str:
        """The template `route` (None: not routed) was served under, for `path`."""
        template = self._by_route.get(id(route)) if route is not None else None
        if template is not None:
            return template
        for pattern, candidate in self._patterns:
            if pattern.match(path):
                return candidate
        return UNMATCHED


class RequestMetrics:
    def __init__(self, app: ASGIApp, histogram: Histogram = HTTP_REQUESTS) -> None:
        self.app = app
        self.histogram = histogram
        self._templates: RouteTemplates | None = None
        self._children: dict[tuple[str, str, int], Any] = {}  # the histogram's, by labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts: the app failed before it answered

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        if self._templates is None:
            self._templates = RouteTemplates(scope["app"].routes)
        template = self._templates.of(route, scope["path"])
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        key = (template, method, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.histogram.labels(template, method, str(status))
        child.observe(seconds)
