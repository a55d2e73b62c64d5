"""The operator console in a real browser (Debian's Chromium, driven by Playwright), with
nothing fetched beyond the platform: a browser without a session is sent to the login
page; an operator logs in with a token, finds a parked SMS under "Needs attention",
retries it and watches it become sent on its timeline; an auditor sees the same list
and an SMS's timeline without a single action button.

A screenshot of each page is kept under tests/artifacts/ (the paths are printed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.console import LOGIN_PATH
from domain.access import Role
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.browser import chromium, confine_to, screenshot
from tests.harness import eventually, sms_status, workers
from tests.integration import parking_sms
from tests.issuer import TokenIssuer

# A page is given this long to render, and a retried SMS this long to be sent.
RENDER_TIMEOUT_MS = 30_000
SHOP = "shop-7"  # the client sending the SMS

# The SMS provider and settings whose SMS park within half a second.
simulator = parking_sms.simulator
settings = parking_sms.settings


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    with running(create_app(settings)) as url, workers(settings, "sms", "projections"):
        yield url


@pytest.fixture(scope="module")
def parked(api_url: str, simulator: httpx.Client, issuer: TokenIssuer) -> list[dict[str, Any]]:
    """Two SMS parked after the provider failed every attempt; the provider then heals."""
    simulator.put("/__admin/faults", json={"error_rate": 1.0})
    shop = issuer.as_client(SHOP)
    with httpx.Client(base_url=api_url, headers=shop, timeout=10) as client:
        sent = [
            client.post(
                "/sms",
                json={
                    "message_id": f"console-{uuid.uuid4()}",
                    "phone_number": "+254712345678",
                    "text": "Your code is 1234",
                },
            ).json()
            for _ in range(2)
        ]
    with issuer.client(api_url, Role.OPERATOR, timeout=10) as operator:
        for sms in sent:  # parked, and so in its read model, which the list reads
            eventually(lambda sms=sms: waiting(operator, sms["id"]) == ["parked"])
    simulator.put("/__admin/faults", json={"error_rate": 0.0})
    return sent


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture()
def page(browser: Browser, api_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The browser's own complaints too: a script or style its CSP refused, a failed load.
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    elsewhere = confine_to(page, api_url)
    yield page
    context.close()
    assert errors == [], f"the page's scripts failed: {errors}"
    assert elsewhere == [], f"requests outside the platform: {elsewhere}"


def keep(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = screenshot(page, name, full_page=True)
    with capsys.disabled():
        print(f"\n{name}: {path}")


def log_in(page: Page, api_url: str, token: str) -> None:
    page.goto(f"{api_url}/console")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # sent to the login
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=RENDER_TIMEOUT_MS)


def test_a_browser_without_a_session_is_sent_to_log_in(
    page: Page, api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    page.goto(f"{api_url}/console/attention")
    expect(page).to_have_url(f"{api_url}{LOGIN_PATH}")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Token")).to_be_empty()
    # Nothing of the console shows before a token is given: no navigation, no one logged in.
    expect(page.get_by_role("link", name="Needs attention")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    keep(page, "console-login", capsys)


def test_an_operator_retries_a_parked_sms_and_watches_it_sent(
    page: Page,
    api_url: str,
    issuer: TokenIssuer,
    parked: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_in(page, api_url, issuer.token(Role.OPERATOR, subject="ops-amina"))
    expect(page.get_by_role("region", name="sms")).to_be_visible()
    expect(page.get_by_role("img", name="sms by status")).to_contain_text("parked")
    expect(page.get_by_role("img", name="sms throughput")).to_be_visible()
    expect(page.locator("header")).to_contain_text("operator · ops-amina")
    # The SMS provider failed every call: its breaker and last error are on the overview.
    provider = page.locator('tr[data-party="sms-provider"]')
    expect(provider).to_contain_text("503")
    expect(provider.locator("td").nth(2)).not_to_have_text("0")
    keep(page, "console-overview", capsys)

    page.get_by_role("link", name="Needs attention").click()
    sms = parked[0]
    row = page.locator(f'tr[data-key="{sms["id"]}"]')
    expect(row).to_contain_text("parked")
    expect(row).to_contain_text("503")
    keep(page, "console-attention", capsys)

    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text(f"Retry of sms {sms['id']} requested")

    # Its timeline, found by its client and message_id: the state turns to sent live.
    page.goto(f"{api_url}/console/timeline?workflow=sms&client={SHOP}&key={sms['message_id']}")
    expect(page.locator("[data-status]")).to_have_text("sent", timeout=RENDER_TIMEOUT_MS)
    events = page.locator("#events")
    for event in ("SmsRequested", "SmsParked", "SmsRetryRequested", "SmsSent"):
        expect(events).to_contain_text(event)
    retried = events.locator("tr", has_text="SmsRetryRequested")
    expect(retried).to_contain_text("operator · ops-amina")  # who retried it, from the console
    expect(events.locator("tr", has_text="SmsRequested")).to_contain_text(f"client · {SHOP}")
    keep(page, "console-timeline", capsys)


def test_an_auditor_sees_what_waits_and_no_action(
    page: Page,
    api_url: str,
    issuer: TokenIssuer,
    parked: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_in(page, api_url, issuer.token(Role.AUDITOR))
    page.goto(f"{api_url}/console/attention?workflow=sms&kind=parked")
    row = page.locator(f'tr[data-key="{parked[1]["id"]}"]')
    expect(row).to_contain_text("parked")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.get_by_role("button", name="Retry all that match")).to_have_count(0)
    keep(page, "console-attention-auditor", capsys)

    row.get_by_role("link").click()  # the timeline, from the list
    expect(page.locator("[data-status]")).to_have_text("parked", timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#events")).to_contain_text("SmsParked")
    expect(page.locator("header")).to_contain_text("auditor")
    # Read only: the one button of the page's own is the lookup's, and no form posts.
    expect(page.locator("main button")).to_have_text(["Show"])
    expect(page.locator('main form[method="post"]')).to_have_count(0)
    keep(page, "console-timeline-auditor", capsys)
    assert sms_status_of(api_url, issuer, parked[1]["id"]) == "parked"


def waiting(operator: httpx.Client, key: str) -> list[str]:
    items = operator.get("/status/attention", params={"key": key}).json()["items"]
    return [item["kind"] for item in items]


def sms_status_of(api_url: str, issuer: TokenIssuer, sms_id: str) -> str:
    with issuer.client(api_url, Role.OPERATOR) as operator:
        return str(sms_status(operator, sms_id))
