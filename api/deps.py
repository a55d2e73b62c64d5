"""FastAPI dependencies as `Annotated` aliases: routers ask for what they use."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from projections.pagination import DEFAULT_LIMIT, MAX_LIMIT


async def get_platform(request: Request) -> Any:
    # async: a plain function would cost a thread-pool hop on every request.
    return request.app.state.platform


Platform = Annotated[Any, Depends(get_platform)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500).")]
Cursor = Annotated[str | None, Query(description="Opaque `next_cursor` from the previous page.")]
DEFAULT_PAGE_SIZE = DEFAULT_LIMIT
