"""The operator console's session over real HTTP: a token pasted once becomes an HttpOnly,
SameSite=Strict cookie for /console alone, expiring with the token; every POST needs the
session's CSRF token; operators act, auditors read, other roles are refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from domain.access import Role
from domain.billing.invoice import invoice_id_for
from ledgerflow.cli import app as cli
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.issuer import TokenIssuer

RETRY = "/console/actions/retry"


@pytest.fixture(scope="module")
def api_url(database_url: str, issuer: TokenIssuer) -> Iterator[str]:
    with running(create_app(Settings(database_url=database_url, **issuer.trusted))) as url:
        yield url


@contextmanager
def logged_in(api_url: str, issuer: TokenIssuer, role: Role) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url) as client:
        answer = client.post("/console/login", data={"token": issuer.token(role)})
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        yield client


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/console/attention")
    assert page.status_code == 200
    found = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page.text)
    assert found
    return found.group(1)


def retry_form(csrf: str | None) -> dict[str, str]:
    form = {"workflow": "sms", "kind": "parked", "key": str(uuid.uuid4())}
    return form | ({"csrf": csrf} if csrf is not None else {})


def test_the_login_page_and_assets_are_public_and_pages_send_a_browser_there(
    api_url: str,
) -> None:
    with httpx.Client(base_url=api_url) as browser:
        assert browser.get("/console").status_code == 303
        assert browser.get("/console").headers["location"] == "/console/login"
        assert browser.get("/console/login").status_code == 200
        htmx = browser.get("/console/static/htmx.min.js")
        assert htmx.status_code == 200 and "htmx" in htmx.text
        assert browser.post(RETRY, data=retry_form("x")).status_code == 401


def test_a_token_becomes_a_strict_http_only_cookie_for_the_console_alone(
    api_url: str, issuer: TokenIssuer
) -> None:
    with httpx.Client(base_url=api_url) as browser:
        answer = browser.post("/console/login", data={"token": issuer.token(Role.OPERATOR)})
        cookie = answer.headers["set-cookie"]
        assert answer.status_code == 303
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age", "samesite"} <= attributes
        assert "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()
        max_age = int(re.search(r"max-age=(\d+)", cookie.lower()).group(1))  # type: ignore[union-attr]
        assert 0 < max_age <= 3600  # the token's lifetime
        assert "secure" not in attributes  # plain http to 127.0.0.1: development

        overview = browser.get("/console")
        assert overview.status_code == 200 and "Overview" in overview.text
        assert "Content-Security-Policy" in overview.headers
        assert browser.get("/status").status_code == 401  # the API takes bearer tokens only
        logout = browser.post("/console/logout", data={"csrf": csrf_of(browser)})
        assert logout.status_code == 303 and 'ledgerflow_console=""' in logout.headers["set-cookie"]


def test_a_refused_token_or_another_role_gets_no_session(api_url: str, issuer: TokenIssuer) -> None:
    with httpx.Client(base_url=api_url) as browser:
        refused = browser.post("/console/login", data={"token": "not.a.token"})
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        client = browser.post("/console/login", data={"token": issuer.token(Role.CLIENT)})
        assert client.status_code == 403 and "set-cookie" not in client.headers
    bearer = {"authorization": f"Bearer {issuer.token(Role.CLIENT)}"}
    assert httpx.get(f"{api_url}/console", headers=bearer).status_code == 403


def test_every_post_needs_the_sessions_csrf_token(api_url: str, issuer: TokenIssuer) -> None:
    with logged_in(api_url, issuer, Role.OPERATOR) as operator:
        csrf = csrf_of(operator)
        assert operator.post(RETRY, data=retry_form(None)).status_code == 403
        assert operator.post(RETRY, data=retry_form("0" * 64)).status_code == 403
        assert operator.post("/console/logout", data={}).status_code == 403
        with logged_in(api_url, issuer, Role.OPERATOR) as other:  # another session's token
            assert other.post(RETRY, data=retry_form(csrf)).status_code == 403
        done = operator.post(RETRY, data=retry_form(csrf), headers={"hx-request": "true"})
        assert done.status_code == 200 and "Not done" in done.text  # no such SMS: but let in
        header = operator.post(
            RETRY, data=retry_form(None), headers={"x-csrf-token": csrf, "hx-request": "true"}
        )
        assert header.status_code == 200


def test_an_auditor_reads_and_may_not_act(api_url: str, issuer: TokenIssuer) -> None:
    with logged_in(api_url, issuer, Role.AUDITOR) as auditor:
        csrf = csrf_of(auditor)
        page = auditor.get("/console/attention")
        assert page.status_code == 200 and "Retry all" not in page.text
        assert auditor.post(RETRY, data=retry_form(csrf)).status_code == 403
        assert auditor.get("/console/timeline").status_code == 200


def test_an_operator_replays_and_discards_dead_letters_from_the_console(
    api_url: str, issuer: TokenIssuer, database_url: str
) -> None:
    queue = f"ledgerflow.commands.idle{uuid.uuid4().hex[:8]}"  # no consumer: it stays
    with psycopg.connect(database_url, autocommit=True) as conn:
        letters = [
            str(row[0])
            for row in conn.execute(
                "INSERT INTO ledgerflow_dead_letters (queue, message_id, body, reason)"
                " SELECT %s, 'm-' || n, '{}', 'no handler' FROM generate_series(1, 2) n"
                " RETURNING id",
                (f"{queue}.dead",),
            ).fetchall()
        ]
    htmx = {"hx-request": "true"}
    with logged_in(api_url, issuer, Role.AUDITOR) as auditor:
        page = auditor.get("/console/attention", params={"kind": "dead_letter"}).text
        assert letters[0] in page and "Replay" not in page and "Discard" not in page
        form = {"key": letters[0], "csrf": csrf_of(auditor)}
        assert auditor.post("/console/actions/replay", data=form).status_code == 403
    with logged_in(api_url, issuer, Role.OPERATOR) as operator:
        csrf = csrf_of(operator)
        page = operator.get("/console/attention", params={"kind": "dead_letter"}).text
        assert "Replay" in page and "Discard" in page
        replayed = operator.post(
            "/console/actions/replay", data={"key": letters[0], "csrf": csrf}, headers=htmx
        )
        assert f"Dead letter {letters[0]} is back on its queue." in replayed.text
        discarded = operator.post(
            "/console/actions/discard", data={"key": letters[1], "csrf": csrf}, headers=htmx
        )
        assert f"Dead letter {letters[1]} discarded." in discarded.text
        again = operator.post(
            "/console/actions/discard", data={"key": letters[1], "csrf": csrf}, headers=htmx
        )
        assert f"Not done: no dead letter {letters[1]}." in again.text
    with logged_in(api_url, issuer, Role.AUDITOR) as auditor:  # who decided, for all to read
        page = auditor.get("/console/attention", params={"kind": "dead_letter"}).text
        recent = page.split('id="dead-letter-decisions"', 1)[1]
        assert "Recent decisions" in page and f"{queue}.dead" in recent
        assert f"<code>{letters[0]}</code>" in recent and f"<code>{letters[1]}</code>" in recent
        assert "replay" in recent and "discard" in recent and "operator:" in recent
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM ledgerflow_dead_letters WHERE queue = %s", (f"{queue}.dead",)
        ).fetchone()
        back = conn.execute(
            "SELECT message_id FROM ledgerflow_queue_messages WHERE queue = %s", (queue,)
        ).fetchall()
    assert left == (0,) and back == [("m-1",)]


def test_any_aggregates_timeline_by_id_or_the_clients_key(
    api_url: str, issuer: TokenIssuer, database_url: str
) -> None:
    key = f"order-{uuid.uuid4()}"
    shop = issuer.as_client("shop-7")
    with httpx.Client(base_url=api_url, headers=shop, timeout=10) as client:
        order = client.post(
            "/orders",
            json={
                "type": "limit",
                "side": "buy",
                "instrument": "US0378331005",
                "limit_price": "189.25",
                "quantity": 10,
            },
            headers={"Idempotency-Key": key},
        ).json()
        application = client.post(
            "/applications",
            json={
                "first_name": "Amina",
                "last_name": "Okafor",
                "term_months": 36,
                "amount": {"amount": "15000.00", "currency": "EUR"},
                "email": "amina.okafor@example.com",
            },
        ).json()
    seeded = CliRunner().invoke(cli, ["seed", "antaeus"], env={"DATABASE_URL": database_url})
    assert seeded.exit_code == 0, seeded.output

    with logged_in(api_url, issuer, Role.AUDITOR) as auditor:

        def shown(**query: str) -> str:
            page = auditor.get("/console/timeline", params=query)
            assert page.status_code == 200, (query, page.text)
            return page.text

        by_key = shown(workflow="orders", client="shop-7", key=key)
        assert order["id"] in by_key and "OrderAccepted" in by_key
        assert shown(workflow="orders", id=order["id"]).count("OrderAccepted") == 1
        assert "client · shop-7" in by_key  # who placed it
        another = auditor.get(
            "/console/timeline", params={"workflow": "orders", "client": "shop-8", "key": key}
        )
        assert another.status_code == 404  # a key is its client's own
        assert "ApplicationSubmitted" in shown(workflow="lending", id=application["id"])
        assert "InvoiceIssued" in shown(workflow="billing", id="1")
        assert "InvoiceIssued" in shown(
            workflow="billing", id=str(invoice_id_for(1))
        )  # its aggregate
        missing = auditor.get(
            "/console/timeline", params={"workflow": "sms", "id": str(uuid.uuid4())}
        )
        assert missing.status_code == 404 and 'role="alert"' in missing.text
        no_keys = auditor.get("/console/timeline", params={"workflow": "lending", "key": "k"})
        assert no_keys.status_code == 404 and "lending has no client keys" in no_keys.text
        nonsense = auditor.get("/console/timeline", params={"workflow": "sms", "id": "not-an-id"})
        assert nonsense.status_code == 404
