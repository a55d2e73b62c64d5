"""The schema's revisions as this code knows them, and what a process makes of the
revision a database is at (no database needed: the check is on the numbers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from adapters.migrations import (
    MIGRATE_COMMAND,
    SchemaAhead,
    SchemaBehind,
    SchemaState,
    head_revisions,
)
from adapters.migrations.revisions import known_revisions
from adapters.migrations.state import state_of

VERSIONS = Path(__file__).resolve().parents[2] / "adapters" / "migrations" / "versions"


def test_the_revisions_form_one_line_from_the_first() -> None:
    [head] = head_revisions()
    assert "0001" in known_revisions()
    assert state_of(frozenset()).pending[0] == "0001"
    assert state_of(frozenset()).pending[-1] == head


def test_each_number_is_one_revision() -> None:
    """Two branches that each add "the next" revision both name it the same: Alembic
    would keep one of them and never run the other."""
    numbers = [path.name.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*.py")]
    assert len(numbers) == len(set(numbers)) == len(known_revisions()), sorted(numbers)


def test_every_revision_is_plain_sql_named_after_its_number() -> None:
    for path in sorted(VERSIONS.glob("[0-9]*.py")):
        tree = ast.parse(path.read_text())
        assigned = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        revision = assigned["revision"]
        assert isinstance(revision, ast.Constant) and path.name.startswith(f"{revision.value!s}_")
        calls = {
            f"{node.func.value.id}.{node.func.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        }
        # SQL the reader sees as it runs, not SQLAlchemy's table operations.
        assert {call for call in calls if call.startswith("op.")} <= {"op.execute"}, path.name


def test_a_database_at_the_head_is_fine() -> None:
    assert state_of(head_revisions()).problem() is None
    assert state_of(head_revisions()).pending == []


@pytest.mark.parametrize("stored", [frozenset(), frozenset({"0001"})])
def test_an_older_database_is_to_be_migrated_with_the_command_named(
    stored: frozenset[str],
) -> None:
    state = SchemaState(stored, frozenset({"0002"}), frozenset({"0001", "0002"}))
    problem = state.problem()
    assert isinstance(problem, SchemaBehind)
    assert f"`{MIGRATE_COMMAND}`" in str(problem)
    assert ("not migrated yet" in str(problem)) == (not stored)


def test_a_database_a_newer_release_migrated_is_refused_with_its_own_message() -> None:
    state = state_of(frozenset({"9999"}))
    problem = state.problem()
    assert isinstance(problem, SchemaAhead)
    assert "9999" in str(problem) and "newer release" in str(problem)
    assert MIGRATE_COMMAND not in str(problem)  # migrating cannot help
    assert state.pending == []
