"""FastAPI dependencies as `Annotated` aliases: routers ask for what they use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request

from ledgerflow.workflow import Workflow
from projections.pagination import DEFAULT_LIMIT, MAX_LIMIT

W = TypeVar("W", bound=Workflow)


async def get_platform(request: Request) -> Any:
    # async: a plain function would cost a thread-pool hop on every request.
    return request.app.state.platform


def workflow(workflow_class: type[W]) -> Callable[[Request], Awaitable[W]]:
    """A dependency answering the open workflow of that class."""

    async def get(request: Request) -> W:
        workflow: W = request.app.state.platform.get(workflow_class)
        return workflow

    return get


Platform = Annotated[Any, Depends(get_platform)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500).")]
Cursor = Annotated[str | None, Query(description="Opaque `next_cursor` from the previous page.")]
DEFAULT_PAGE_SIZE = DEFAULT_LIMIT
