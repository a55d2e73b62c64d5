"""The revisions this release knows: Alembic's script directory, configured in code (no
alembic.ini), and new revisions numbered after the last."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "ledgerflow_schema_version"
"""Where a database keeps the revision it is at (Alembic's `alembic_version`, renamed)."""


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's configuration; `env.py` reads the URL from its attributes."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["database_url"] = database_url
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> frozenset[str]:
    """The revision(s) this code's tables are at."""
    return frozenset(_script().get_heads())


def known_revisions() -> frozenset[str]:
    return frozenset(revision.revision for revision in _script().walk_revisions())


def revisions_between(lower: frozenset[str], upper: frozenset[str]) -> list[str]:
    """The revisions after `lower` (empty: the start) up to `upper`, oldest first."""
    between = _script().iterate_revisions(tuple(upper), tuple(lower) or "base")
    return [revision.revision for revision in reversed(list(between))]


def new_revision(message: str) -> Path:
    """A new revision after the head, from `script.py.mako`, numbered after the last."""
    numbers = [int(r.revision) for r in _script().walk_revisions() if r.revision.isdigit()]
    number = f"{max(numbers, default=0) + 1:04d}"
    created = command.revision(alembic_config(), message, rev_id=number)
    if created is None or isinstance(created, list):
        raise RuntimeError("alembic created no single revision")
    _script.cache_clear()
    return Path(created.path)
