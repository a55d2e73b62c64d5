"""The one rule of every command a client sends, on every endpoint and queue: strict
types, and values every table the command reaches can hold.

Strict: a JSON integer is an integer (`"36"` and `36.0` are refused), a string is a
string, a boolean a boolean; nothing is coerced. Ids are the one exception, as JSON has
no UUID type: a UUID is a JSON string in one of the forms `uuid.UUID` reads.

Storable: a text is bounded in length by its field, and holds no NUL character (a
PostgreSQL `text` cannot) nor an unpaired surrogate (it has no UTF-8 form): either
would be accepted here and then stop a read model's follower on its insert.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field

# Every request model's configuration: unknown fields refused, no coercion.
STRICT = ConfigDict(extra="forbid", strict=True)

# An id in a JSON body: a string, read as a UUID (the one lax type: JSON has no UUID).
JsonUuid = Annotated[UUID, Field(strict=False)]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("text must not contain NUL characters or unpaired surrogates")
    return value


StorableText = Annotated[str, AfterValidator(storable)]
