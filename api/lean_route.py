"""`LeanRoute`: an `APIRoute` that calls its endpoint without FastAPI's per-request
dependency solving when a request is well-formed, and leaves every other request to
FastAPI's own handler.

For a small endpoint FastAPI's handler costs more CPU than the endpoint's own work:
solving one dependency, one header or the body takes tens of microseconds each, and it
parses the query string and cookies even when nothing asks for them. For the endpoint
shapes below, this route builds the same arguments itself, from the route's own
definition: the body with the model's `model_validate_json`, each header with FastAPI's
own field, each dependency called once, in order. The endpoint is still one FastAPI
route: its OpenAPI entry, validation and errors are FastAPI's.

Lean, when the route (as included: with its routers' and the app's dependencies) has
- one JSON body parameter, a pydantic model;
- optional `str | None` headers (default `None`);
- dependencies that are plain `async def` functions of nothing or of the `Request`;
- an `async def` endpoint returning a `Response`;
and the request has a JSON content type, a body and headers that validate, with neither
dependency overrides nor telemetry in force. Anything else, a dependency with
parameters, `yield` or security scopes included, goes to FastAPI's handler, which also
answers every request that does not validate: the 4xx are FastAPI's own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response, params
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data
from pydantic import BaseModel

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# As FastAPI reads them, lowercased; any other content type goes to its handler.
JSON_CONTENT_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        lean = LeanCall.of(_as_served(self))
        if lean is None:
            return handler

        async def lean_or_fastapi(request: Request) -> Response:
            response = await lean(request)
            return response if response is not None else await handler(request)

        return lean_or_fastapi


def _as_served(route: APIRoute) -> Any:
    """The route as FastAPI serves it. A route of an included router is served in the
    context of its inclusion (its dependant then holds the including routers' and the
    app's dependencies too), which FastAPI passes to `get_route_handler` in a private
    context variable; without it, no lean path. tests/unit/test_lean_route.py fails if
    a FastAPI upgrade stops passing it that way (the including routers' and the app's
    dependencies would no longer apply)."""
    served = getattr(fastapi_routing, "_effective_route_context_var", None)
    if served is None:
        return None
    context = served.get()
    return context if context is not None and context.original_route is route else route


@dataclass(frozen=True)
class Dependency:
    name: str | None
    call: Callable[..., Coroutine[Any, Any, Any]]
    request_name: str | None
    use_cache: bool


@dataclass(frozen=True)
class LeanCall:
    """The endpoint's arguments built without FastAPI's solver, or `None` to hand over."""

    endpoint: Callable[..., Coroutine[Any, Any, Response]]
    body_name: str
    body_model: type[BaseModel]
    headers: tuple[Any, ...]  # FastAPI's fields (`ModelField`) of the header parameters
    dependencies: tuple[Dependency, ...]
    request_name: str | None
    overrides_provider: Any

    @classmethod
    def of(cls, route: Any) -> LeanCall | None:
        """The lean call of a route as served, or `None` when its shape is not one of
        those this module knows."""
        if route is None:
            return None
        dependant: Dependant = route.dependant
        if (
            not _async_function(dependant.call)
            or not _returns_response(dependant.call)
            or _has_other_parameters(dependant)
            or len(dependant.body_params) != 1
        ):
            return None
        body = dependant.body_params[0]
        body_model = body.field_info.annotation
        if (
            type(body.field_info) is not params.Body
            or body.field_info.embed
            or body.field_info.media_type != "application/json"
            or body.field_info.metadata
            or not (isinstance(body_model, type) and issubclass(body_model, BaseModel))
        ):
            return None
        if not all(_optional_text_header(field) for field in dependant.header_params):
            return None
        dependencies = tuple(_plain_dependency(sub) for sub in dependant.dependencies)
        if any(dependency is None for dependency in dependencies):
            return None
        return cls(
            endpoint=dependant.call,  # type: ignore[arg-type]
            body_name=body.name,
            body_model=body_model,
            headers=tuple(dependant.header_params),
            dependencies=tuple(d for d in dependencies if d is not None),
            request_name=dependant.request_param_name,
            overrides_provider=route.dependency_overrides_provider,
        )

    async def __call__(self, request: Request) -> Response | None:
        overrides = getattr(self.overrides_provider, "dependency_overrides", None)
        if overrides or get_telemetry_data() is not None:
            return None
        headers = request.headers
        if headers.get("content-type", "").lower() not in JSON_CONTENT_TYPES:
            return None
        values: dict[str, Any] = {}
        for field in self.headers:
            text = headers.get(field.alias)
            if text is None:
                values[field.name] = None
                continue
            value, errors = field.validate(text, values, loc=("header", field.alias))
            if errors:
                return None
            values[field.name] = value
        try:
            values[self.body_name] = self.body_model.model_validate_json(await request.body())
        except Exception:  # invalid, or unreadable (e.g. the client left): FastAPI answers
            return None
        # Only now, with nothing left to refuse, as FastAPI would: each once, in order.
        solved: dict[Callable[..., Any], Any] = {}
        for dependency in self.dependencies:
            if dependency.use_cache and dependency.call in solved:
                value = solved[dependency.call]
            elif dependency.request_name is None:
                value = await dependency.call()
            else:
                value = await dependency.call(**{dependency.request_name: request})
            solved.setdefault(dependency.call, value)
            if dependency.name is not None:
                values[dependency.name] = value
        if self.request_name is not None:
            values[self.request_name] = request
        return await self.endpoint(**values)


def _async_function(call: Any) -> bool:
    return inspect.isfunction(call) and inspect.iscoroutinefunction(call)


def _returns_response(call: Any) -> bool:
    try:
        answer = inspect.signature(call, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return False
    return isinstance(answer, type) and issubclass(answer, Response)


def _has_other_parameters(dependant: Dependant) -> bool:
    """Anything but headers, a body, dependencies and the `Request`."""
    return bool(
        dependant.path_params
        or dependant.query_params
        or dependant.cookie_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.parent_oauth_scopes
    )


def _optional_text_header(field: Any) -> bool:
    info = field.field_info
    return (
        type(info) is params.Header
        and info.annotation == (str | None)
        and info.default is None
        and not info.validate_default
        and info.validation_alias is None
    )


def _plain_dependency(sub: Dependant) -> Dependency | None:
    """A dependency of nothing or of the `Request` only, awaited as it is."""
    if (
        not _async_function(sub.call)
        or sub.dependencies
        or sub.header_params
        or sub.body_params
        or sub.concurrency is not None
        or _has_other_parameters(sub)
    ):
        return None
    return Dependency(sub.name, sub.call, sub.request_param_name, sub.use_cache)  # type: ignore[arg-type]
