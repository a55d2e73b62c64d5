"""The operator console's pages, rendered on the server (Jinja2) and made live with htmx:
login, overview, what needs attention (with the actions, for operators), an aggregate's
timeline. Every action goes through `api.operator_actions`, as the API's routes and the
command line do; the console checks its own roles (operators act, auditors read)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast, get_args
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from adapters.attention import AttentionFilter, AttentionKind
from adapters.authentication import InvalidToken, KeysUnavailable
from api.attention import AttentionItemPublic
from api.authentication import Verifier
from api.callers import principal_of
from api.console.charts import columns, rows
from api.console.formatting import age, moment
from api.console.session import CSRF_FIELD, CSRF_HEADER, ConsoleSessions, needs_secure
from api.console.timeline import LOOKUPS, by_client_key, timeline
from api.operator_actions import (
    attention_of,
    discard_dead_letter,
    replay_dead_letter,
    resolve_invoice,
    retry,
    retry_all,
    skip_set_aside,
)
from api.services import ApiServices
from api.status import ProcessPublic
from domain.access import Principal, Role
from domain.billing.commands import ResolutionAction
from domain.errors import DomainError

PREFIX = "/console"
LOGIN_PATH = f"{PREFIX}/login"
READERS = (Role.OPERATOR, Role.AUDITOR)
WORKFLOWS = tuple(LOOKUPS)
RESOLUTIONS: tuple[str, ...] = get_args(ResolutionAction)
RECENT_DECISIONS = 10  # on dead letters, under the attention list

# Scripts and styles from the console's own assets; htmx calls the console alone.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(age=age, moment=moment, prefix=PREFIX)


class Refused(Exception):
    """A console request refused with `status` (403: not this role, or no valid CSRF
    token), shown as a page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    csrf: str

    @property
    def operator(self) -> bool:
        return self.principal.role is Role.OPERATOR


def console_router(verifier: Verifier, sessions: ConsoleSessions) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def viewer(request: Request) -> Viewer:
        principal = principal_of(request)
        if principal is None or principal.role not in READERS:
            raise Refused(403, "The console is for operators and auditors.")
        return Viewer(principal, sessions.csrf_token(request.scope["state"]["token"]))

    async def posted(request: Request) -> tuple[Viewer, dict[str, str]]:
        """Who posts a form, whose CSRF token must be this session's."""
        seen = viewer(request)
        form = await _form(request)
        offered = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not sessions.csrf_valid(request.scope["state"]["token"], offered):
            raise Refused(403, "This form is stale or was not sent by the console: reload it.")
        return seen, form

    async def acting(request: Request) -> tuple[Viewer, dict[str, str]]:
        """An operator posting an action."""
        seen, form = await posted(request)
        if not seen.operator:
            raise Refused(403, "Auditors read; only operators act.")
        return seen, form

    def page(
        request: Request, name: str, seen: Viewer | None, status: int = 200, **data: Any
    ) -> HTMLResponse:
        return confined(
            templates.TemplateResponse(request, name, {"viewer": seen, **data}, status_code=status)
        )

    @router.get("/login")
    async def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        token = (await _form(request)).get("token", "").strip()
        try:
            principal = await verifier.verify(token.encode()) if token else None
        except InvalidToken as error:
            return page(request, "login.html", None, 401, error=f"Refused: {error}.")
        except KeysUnavailable:
            message = "The token issuer's keys cannot be fetched; try again later."
            return page(request, "login.html", None, 503, error=message)
        if principal is None:
            return page(request, "login.html", None, 401, error="Paste a token.")
        if principal.role not in READERS:
            raise Refused(403, "The console is for operators and auditors.")
        answer = RedirectResponse(PREFIX, status_code=303)
        # The token's `exp` is wall-clock time, as its verification reads it (the
        # platform's clock may be moved in test mode; a token's lifetime is not).
        sessions.open(answer, token, now=time.time(), secure=_secure(request))
        return answer

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await posted(request)
        answer = RedirectResponse(LOGIN_PATH, status_code=303)
        sessions.close(answer, secure=_secure(request))
        return answer

    @router.get("")
    async def overview(request: Request) -> HTMLResponse:
        seen, services = viewer(request), _services(request)
        now = services.clock.now()
        if services.overview is None:
            raise LookupError("this process does not read the workflows' overview")
        workflows = []
        for found in await services.overview.overviews(now):
            labels = [
                moment(found.since + found.slice * index)[11:16]
                for index in range(len(found.finished))
            ]
            workflows.append(
                {
                    "name": found.workflow,
                    "done_label": found.done_label,
                    "counts": rows(found.counts, width=180, row_height=18),
                    "finished": columns(found.finished, labels, width=240, height=60),
                    "total": sum(found.finished),
                    "slice_minutes": int(found.slice / timedelta(minutes=1)),
                }
            )
        work = await services.status.work_backlog(now)
        oldest = await services.status.oldest_due_work(now, [kind.kind for kind in work])
        return page(
            request,
            "overview.html",
            seen,
            now=now,
            workflows=workflows,
            followers=await services.status.follower_lags(),
            work=work,
            oldest={due.kind: due for due in oldest},
            waiting=len(await attention_of(services).items()),
            third_parties=await services.status.third_parties(),
            processes=[
                ProcessPublic.of(record, now, services.status.heartbeat)
                for record in await services.status.processes()
            ],
        )

    @router.get("/attention")
    async def attention(
        request: Request,
        workflow: str | None = None,
        kind: AttentionKind | None = None,
        reason: str | None = None,
    ) -> HTMLResponse:
        seen, services = viewer(request), _services(request)
        only = AttentionFilter(workflow or None, kind, reason or None)
        items = await attention_of(services).items(only)
        decided = (
            (await services.dead_letters.decisions(RECENT_DECISIONS)).items
            if services.dead_letters is not None and kind in (None, AttentionKind.DEAD_LETTER)
            else []
        )
        return page(
            request,
            "attention.html",
            seen,
            now=services.clock.now(),
            items=[AttentionItemPublic.of(item) for item in items],
            decisions=decided,
            only=only,
            workflows=(*WORKFLOWS, "messaging"),
            kinds=list(AttentionKind),
            resolutions=RESOLUTIONS,
        )

    @router.get("/timeline")
    async def timeline_page(
        request: Request, workflow: str = "sms", id: str = "", key: str = "", client: str = ""
    ) -> HTMLResponse:
        seen, services = viewer(request), _services(request)
        found, error = None, None
        if id or key:
            try:
                found = await timeline(
                    services, workflow, id or by_client_key(workflow, key, client)
                )
            except DomainError as refused:
                error = str(refused)
        return page(
            request,
            "timeline.html",
            seen,
            404 if error else 200,
            now=services.clock.now(),
            workflows=WORKFLOWS,
            workflow=workflow,
            id=id,
            key=key,
            client=client,
            timeline=found,
            error=error,
        )

    @router.post("/actions/retry")
    async def retry_one(request: Request) -> Response:
        seen, form = await acting(request)
        workflow, kind, key = form.get("workflow", ""), form.get("kind", ""), form.get("key", "")
        outcome = await _outcome(
            retry(_services(request), workflow, AttentionKind(kind), key, seen.principal.actor),
            f"Retry of {workflow} {key} requested.",
        )
        return _done(request, outcome)

    @router.post("/actions/retry-all")
    async def retry_filtered(request: Request) -> Response:
        seen, form = await acting(request)
        kind = form.get("kind") or None
        only = AttentionFilter(
            form.get("workflow") or None,
            AttentionKind(kind) if kind else None,
            form.get("reason") or None,
        )
        outcomes = await retry_all(_services(request), only, seen.principal.actor)
        failed = [o for o in outcomes if o.error]
        message = f"Retried {len(outcomes) - len(failed)} of {len(outcomes)}." + "".join(
            f" {o.item.workflow} {o.item.key}: {o.error}." for o in failed
        )
        return _done(request, message, "flash.html")

    @router.post("/actions/resolve-invoice")
    async def resolve(request: Request) -> Response:
        seen, form = await acting(request)
        action, key = form.get("action", ""), form.get("key", "")
        if action not in RESOLUTIONS or not form.get("note", "").strip():
            return _done(request, "Choose a resolution and say why.")
        outcome = await _outcome(
            resolve_invoice(
                _services(request),
                int(key),
                cast(ResolutionAction, action),
                form["note"].strip(),
                seen.principal.actor,
            ),
            f"Invoice {key}: {action.replace('_', ' ')}.",
        )
        return _done(request, outcome)

    @router.post("/actions/skip")
    async def skip(request: Request) -> Response:
        seen, form = await acting(request)
        key, reason = form.get("key", ""), form.get("reason", "").strip()
        if not reason:
            return _done(request, "Say why it is skipped.")
        outcome = await _outcome(
            skip_set_aside(_services(request), int(key), reason, seen.principal.actor),
            f"Skip of set-aside item {key} requested.",
        )
        return _done(request, outcome)

    @router.post("/actions/replay")
    async def replay(request: Request) -> Response:
        seen, form = await acting(request)
        key = form.get("key", "")

        outcome = await _outcome(
            replay_dead_letter(_services(request), key, seen.principal.actor),
            f"Dead letter {key} is back on its queue.",
        )
        return _done(request, outcome)

    @router.post("/actions/discard")
    async def discard(request: Request) -> Response:
        seen, form = await acting(request)
        key = form.get("key", "")
        outcome = await _outcome(
            discard_dead_letter(_services(request), key, seen.principal.actor),
            f"Dead letter {key} discarded.",
        )
        return _done(request, outcome)

    return router


async def _outcome(action: Awaitable[object], done: str) -> str:
    try:
        await action
    except DomainError as error:
        return f"Not done: {error}."
    except ValueError:  # a key that is no id of its kind: the form was not the console's
        return "Not done: no such item."
    return done


def _done(request: Request, message: str, fragment: str = "outcome.html") -> Response:
    """For htmx, the outcome in place of what was acted on (`fragment`: a table row, or
    the flash); a plain form goes back to the list."""
    if request.headers.get("hx-request"):
        return confined(templates.TemplateResponse(request, fragment, {"message": message}))
    return RedirectResponse(f"{PREFIX}/attention", status_code=303)


def confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


async def _form(request: Request) -> dict[str, str]:
    """A posted form's fields (`application/x-www-form-urlencoded`, as the console's forms
    and htmx send them)."""
    return dict(parse_qsl((await request.body()).decode(errors="replace")))


def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


def _secure(request: Request) -> bool:
    return needs_secure(request.url.scheme, request.url.hostname or "")
