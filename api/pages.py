"""The shape of every list endpoint's answer: a page of items and the cursor to the next.

Each list names its page as a subclass, `class SmsPage(Page[SmsPublic])`, so the OpenAPI
calls its schema `SmsPage` (pydantic would name `Page[SmsPublic]` `Page_SmsPublic_`)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

T = TypeVar("T")

EXAMPLE_CURSOR = "WyIyMDI2LTExLTIxVDEwOjAwOjAwKzAwOjAwIiwgImQyZSJd"


def _example(schema: JsonDict, page: type[Any]) -> None:
    """A page's example: one item, the item's own example."""
    parametrized = (
        base.__pydantic_generic_metadata__["args"]
        for base in page.__mro__
        if issubclass(base, Page) and base is not Page
    )
    item = next((args for args in parametrized if args), ())
    extra = item[0].model_config.get("json_schema_extra") if item else None
    if isinstance(extra, dict) and isinstance(examples := extra.get("examples"), list):
        schema["examples"] = [{"items": examples[:1], "next_cursor": EXAMPLE_CURSOR}]


class Page(BaseModel, Generic[T]):
    # Read from a `projections.pagination.Page` as it is, when its rows fit `T`.
    model_config = ConfigDict(from_attributes=True, json_schema_extra=_example)

    items: list[T]
    next_cursor: str | None
