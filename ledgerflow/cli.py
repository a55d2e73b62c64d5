"""The `ledgerflow` command: run the platform, a worker, a simulator, migrate the database,
rebuild projections, show the platform's status, decide on set-aside events, sign a
development token."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from ledgerflow.cli_attention import dead_letter_app, invoice_app
from ledgerflow.cli_common import fail, require_current_schema
from ledgerflow.cli_set_aside import cli_actor, set_aside_app, set_aside_table
from ledgerflow.cli_work import work_app
from ledgerflow.data_dir import DEFAULT_DATA_DIR, DataDir, settings_with_database
from ledgerflow.heap import tune_collector
from ledgerflow.logs import configure_logging
from ledgerflow.priority import lower_cpu_priority
from ledgerflow.settings import Settings

app = typer.Typer(
    help="ledgerflow: reliable fintech workflows on an event store.", no_args_is_help=True
)
projections_app = typer.Typer(
    help="Read models: rebuild them from the event log, wait for them to catch up.",
    no_args_is_help=True,
)
app.add_typer(projections_app, name="projections")
db_app = typer.Typer(
    help="The platform's tables: migrate them to this release, see where they are.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(set_aside_app, name="set-aside")
app.add_typer(dead_letter_app, name="dead-letter")
app.add_typer(invoice_app, name="invoice")
app.add_typer(work_app, name="work")


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The API's port.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Embedded database, logs and urls.json.")] = Path(
        ".ledgerflow"
    ),
) -> None:
    """Start the API, every worker, the relay and the simulators; Ctrl-C stops all."""
    from ledgerflow.supervisor import run_platform

    if Settings().environment == "production":
        raise typer.BadParameter(
            "LEDGERFLOW_ENVIRONMENT=production: `ledgerflow up` runs the platform as its own"
            " token issuer and with simulators, which production refuses; run each process"
            " on its own (ledgerflow api, ledgerflow worker ...) against a real issuer"
        )
    raise typer.Exit(run_platform(host=host, port=port, data_dir=data_dir))


@app.command()
def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the HTTP API alone."""
    import uvicorn

    settings = registered_as("api", Settings())
    configure_logging(settings.log_level)
    name_connections("api")
    require_current_schema(settings)
    from ledgerflow.metrics import serve_metrics
    from ledgerflow.web import create_app

    serve_metrics(settings, "api")
    app = create_app(settings)
    tune_collector()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        http="httptools",
        loop="uvloop",
        access_log=False,
    )


@app.command()
def worker(
    name: Annotated[
        str, typer.Argument(help="a workflow (sms, orders, ...), projections, relay or ingester")
    ],
) -> None:
    """Run one worker; start more processes to scale out."""
    from ledgerflow.workers import workers

    known = workers()
    if name not in known:
        raise typer.BadParameter(f"unknown worker {name!r}; choose from {', '.join(known)}")
    settings = registered_as(f"worker-{name}", Settings())
    configure_logging(settings.log_level)
    name_connections(f"worker {name}")
    require_current_schema(settings)
    from ledgerflow.metrics import serve_metrics

    serve_metrics(settings, f"worker-{name}")
    # Workers are behind the API by design (placement, projections, relays are all
    # asynchronous): when CPU is short they wait and the endpoints keep their latency.
    lower_cpu_priority(settings.worker_nice)
    tune_collector()
    _run_until_signalled(lambda stop: known[name](settings, stop))


@app.command()
def simulator(
    name: Annotated[str, typer.Argument(help="e.g. sms-provider")],
    port: Annotated[int, typer.Option()] = 0,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Run one third-party simulator with its fault-injection control surface."""
    from simulators.registry import SIMULATORS, serve

    if name not in SIMULATORS:
        raise typer.BadParameter(f"unknown simulator {name!r}; choose from {', '.join(SIMULATORS)}")
    configure_logging(Settings().log_level)
    tune_collector()
    serve(name, host, port)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="client, member, bank_admin, operator or auditor.")],
    data_dir: Annotated[
        Path, typer.Option(help="The data dir of `ledgerflow up`, whose issuer signs.")
    ] = Path(".ledgerflow"),
    subject: Annotated[str | None, typer.Option(help="`sub`; default: dev-<role>.")] = None,
    member: Annotated[UUID | None, typer.Option(help="A member's `member_id`.")] = None,
    bank: Annotated[UUID | None, typer.Option(help="A bank admin's `bank_id`.")] = None,
    administrator: Annotated[
        UUID | None, typer.Option(help="A bank admin's `administrator_id`.")
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help='A client\'s scopes, e.g. "sms:send sms:read"; default all.')
    ] = None,
    ttl: Annotated[float, typer.Option(help="Seconds the token is valid.")] = 3600,
) -> None:
    """Print a token signed by the development issuer of `--data-dir` (as `up` runs it)."""
    from adapters.authentication import DevelopmentIssuer, NoDevelopmentIssuer
    from domain.access import TOKEN_ROLES, Role
    from ledgerflow.authentication import development_issuer_dir

    names = sorted(r.value for r in TOKEN_ROLES)
    if role not in names:
        raise typer.BadParameter(f"unknown role {role!r}; choose from {', '.join(names)}")
    if Settings().environment == "production":
        raise typer.BadParameter("LEDGERFLOW_ENVIRONMENT=production trusts no development issuer")
    try:
        issuer = DevelopmentIssuer.load(development_issuer_dir(data_dir.resolve()))
        signed = issuer.token(
            Role(role),
            subject=subject,
            scopes=scope.split() if scope is not None else None,
            member_id=member,
            bank_id=bank,
            administrator_id=administrator,
            ttl_seconds=ttl,
        )
    except (NoDevelopmentIssuer, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(signed)


@app.command()
def seed(
    name: Annotated[str, typer.Argument(help="a data set, e.g. antaeus")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Load a data set (idempotent: loading it again adds nothing)."""
    from ledgerflow.bootstrap import platform_session
    from ledgerflow.workflows import WORKFLOWS

    owners = {seed: cls.name for cls in WORKFLOWS for seed in cls.seeds}
    if name not in owners:
        raise typer.BadParameter(f"unknown data set {name!r}; choose from {', '.join(owners)}")
    settings = settings_with_database(data_dir)
    configure_logging(settings.log_level)
    require_current_schema(settings)

    async def run() -> int:
        async with platform_session(settings, only={owners[name]}) as platform:
            return await platform.workflows[owners[name]].seed(name)

    created = asyncio.run(run())
    typer.echo(f"{name}: {created} created")


@app.command()
def status(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """How far each follower is behind its log and what it set aside, the work waiting
    (its longest-waiting call and last error), and what waits for an operator."""
    from rich.console import Console

    from ledgerflow.cli_status import status_report

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    console = Console()
    for part in asyncio.run(status_report(settings)):
        console.print(part)


@app.command()
def attention(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="parked, needs_attention, payment_failed, set_aside or dead_letter."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="A part of the reason or the error.")] = None,
    key: Annotated[
        str | None, typer.Option(help="One item: its key or its aggregate's id.")
    ] = None,
    retry: Annotated[bool, typer.Option("--retry", help="Retry what the filter selects.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Everything waiting for an operator across the workflows, with reason, age and last
    error (as `GET /status/attention`); `--retry` retries what the filter selects."""
    from rich.console import Console

    from adapters.attention import AttentionFilter, AttentionKind
    from ledgerflow.cli_attention import run_attention

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    try:
        only = AttentionFilter(workflow, AttentionKind(kind) if kind else None, reason, key)
    except ValueError:
        fail(f"unknown kind {kind!r}: {', '.join(k.value for k in AttentionKind)}")
    console = Console()
    for part in run_attention(settings, only, retry):
        console.print(part)


@projections_app.command("wait")
def wait_for_projections(
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.")] = 120.0,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Wait until every read model has applied its log as far as it reaches now (the
    projections worker applies them); exit 1 naming those still behind at the timeout."""
    from ledgerflow.readiness import read_models_caught_up

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    behind = asyncio.run(read_models_caught_up(settings, timeout))
    if behind:
        fail(f"read models still behind after {timeout:g} s: {', '.join(behind)}")


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str | None, typer.Argument(help="One read model; all when omitted.")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Drop read models and rebuild them from the event log, with a progress bar. What
    cannot be applied is set aside (its aggregate's later events wait) and listed at the
    end; the rebuild goes on."""
    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)

    async def run() -> None:
        from adapters.set_aside.desk import SetAsideDesk
        from ledgerflow.bootstrap import platform_session

        async with platform_session(settings) as platform:
            followers = platform.projections()
            chosen = [f for f in followers if name in (None, f.name)]
            if not chosen:
                names = ", ".join(f.name for f in followers)
                raise typer.BadParameter(f"unknown projection {name!r}; choose from {names}")
            set_aside = 0
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            ) as progress:
                for follower in chosen:
                    task = progress.add_task(follower.name, total=await follower.head() or 1)

                    def advance(position: int, head: int, task: TaskID = task) -> None:
                        progress.update(task, completed=position, total=max(head, 1))

                    applied = await follower.rebuild(advance, actor=cli_actor())
                    progress.update(task, completed=progress.tasks[task].total)
                    # Earlier items were closed by the rebuild: the open ones are its own.
                    items = await SetAsideDesk(platform.pool).items(follower=follower.name)
                    progress.console.print(
                        f"{follower.name}: {applied} events applied, {len(items)} set aside"
                    )
                    if items:
                        progress.console.print(set_aside_table(items))
                        set_aside += len(items)
            if set_aside:
                progress.console.print(
                    f"{set_aside} aggregates set aside: fix, then `ledgerflow set-aside retry`"
                )

    asyncio.run(run())


@db_app.command("migrate")
def db_migrate(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Bring the database's tables to this release (idempotent; safe from several
    processes at once). Every other command refuses to start until it has run."""
    from adapters.migrations import SchemaMismatch, head_revisions, migrate

    settings = settings_with_database(data_dir)
    configure_logging(settings.log_level)
    try:
        migrate(_database_url(settings))
    except SchemaMismatch as error:
        fail(str(error))
    typer.echo(f"database schema at {', '.join(sorted(head_revisions()))}")


@db_app.command("status")
def db_status(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """The database's revision, this release's, and what `db migrate` would apply; exits
    1 unless they are the same."""
    from adapters.migrations import schema_state_of

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    state = schema_state_of(_database_url(settings))
    typer.echo(f"database: {', '.join(sorted(state.stored)) or 'not migrated'}")
    typer.echo(f"this release: {', '.join(sorted(state.heads))}")
    if state.pending:
        typer.echo(f"pending: {', '.join(state.pending)}")
    problem = state.problem()
    if problem is not None:
        fail(str(problem))


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Argument(help="What the change does, e.g. 'index runs'")],
) -> None:
    """Start a new migration (a file in adapters/migrations/versions/ to fill in)."""
    from adapters.migrations import new_revision

    typer.echo(new_revision(message))


def _database_url(settings: Settings) -> str:
    if not settings.database_url:
        fail("DATABASE_URL is not set")
    return str(settings.database_url)


def name_connections(role: str) -> None:
    """Every PostgreSQL connection of this process carries its role (libpq reads
    PGAPPNAME), so operators see in pg_stat_activity who holds what."""
    os.environ.setdefault("PGAPPNAME", f"ledgerflow {role}")


def registered_as(role: str, settings: Settings) -> Settings:
    """A long-running process registers in `ledgerflow_processes` and heartbeats: under
    `LEDGERFLOW_PROCESS_NAME` when set (several of one role on a host), else its role."""
    if settings.process_name:
        return settings
    return settings.model_copy(update={"process_name": role})


def _run_until_signalled(main: object) -> None:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)  # type: ignore[operator]

    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(runner())


if __name__ == "__main__":
    app()
