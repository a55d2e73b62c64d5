"""`ledgerflow up`'s data directory, as the other commands find the platform through it.

`up` writes the database's URL there (`database.url`, readable by its owner alone: a
URL may hold a password) while it runs; `ledgerflow status`, `set-aside`, `projections
rebuild`, `db` and `seed` use it when `DATABASE_URL` is not set, so they work beside
`make up` with nothing exported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ledgerflow.settings import Settings

DEFAULT_DATA_DIR = Path(".ledgerflow")
DATABASE_URL_FILE = "database.url"

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        help="The data dir of a running `ledgerflow up`, whose database is used when"
        " DATABASE_URL is not set.",
    ),
]


def write_database_url(data_dir: Path, url: str) -> Path:
    """`<data_dir>/database.url`, created readable and writable by its owner alone."""
    path = data_dir / DATABASE_URL_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file left by an older release keeps its mode otherwise
    with os.fdopen(descriptor, "w") as file:
        file.write(url + "\n")
    return path


def forget_database_url(data_dir: Path) -> None:
    (data_dir / DATABASE_URL_FILE).unlink(missing_ok=True)


def read_database_url(data_dir: Path) -> str | None:
    try:
        return (data_dir / DATABASE_URL_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def settings_with_database(data_dir: Path) -> Settings:
    """The settings, with the database of `up`'s data dir unless `DATABASE_URL` is set;
    exits with the way out when there is neither."""
    settings = Settings()
    if settings.database_url:
        return settings
    url = read_database_url(data_dir)
    if url is None:
        typer.echo(
            f"ledgerflow: DATABASE_URL is not set and {data_dir / DATABASE_URL_FILE} does not"
            " exist: set DATABASE_URL, or start `ledgerflow up` (`--data-dir` names its"
            " data dir when it is not .ledgerflow)",
            err=True,
        )
        raise typer.Exit(1)
    return settings.model_copy(update={"database_url": url})
