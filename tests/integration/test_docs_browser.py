"""`/docs` and `/redoc` render in a real browser with no network beyond the platform: their
scripts, styles and icon are served by the API itself, and "Authorize" still takes a
token. Every request to another origin is aborted and recorded; none may be attempted.

A screenshot of each page is kept under tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.browser import chromium, confine_to, screenshot
from tests.issuer import TokenIssuer

# A page is given this long to fetch its assets and the OpenAPI and to render them.
RENDER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def api_url(database_url: str, issuer: TokenIssuer) -> Iterator[str]:
    with running(create_app(Settings(database_url=database_url, **issuer.trusted))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page's scripts failed: {errors}"


def _keep(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = screenshot(page, name)
    with capsys.disabled():
        print(f"\n{name}: {path}")


def test_swagger_ui_renders_the_operations_and_authorizes_offline(
    page: Page, api_url: str, issuer: TokenIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = confine_to(page, api_url)
    page.goto(f"{api_url}/docs")

    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    # Swagger UI breaks long paths with zero-width spaces.
    paths = {path.replace("\u200b", "") for path in operations.all_inner_texts()}
    assert {"/sms", "/sms/{sms_id}", "/sms/{sms_id}/retry", "/orders"} <= paths

    # "Authorize" takes a token, and "Try it out" then sends it.
    page.locator("button.authorize").first.click()
    page.locator(".auth-container input").first.fill(issuer.token())
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button.btn-done").click()
    status = page.locator("#operations-operations-status_status_get")
    status.locator(".opblock-summary").click()
    status.locator("button.try-out__btn").click()
    status.locator("button.execute").click()
    answer = status.locator(".live-responses-table tbody .response-col_status").first
    expect(answer).to_have_text("200", timeout=RENDER_TIMEOUT_MS)

    _keep(page, "swagger-ui", capsys)
    assert elsewhere == [], f"requests outside the platform: {elsewhere}"


def test_redoc_renders_the_operations_offline(
    page: Page, api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = confine_to(page, api_url)
    page.goto(f"{api_url}/redoc")

    expect(page.locator("h1").first).to_contain_text("ledgerflow", timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Request an SMS").first).to_be_attached()
    expect(page.get_by_role("heading", name="Place a stock order").first).to_be_attached()

    _keep(page, "redoc", capsys)
    assert elsewhere == [], f"requests outside the platform: {elsewhere}"


def test_the_pages_name_only_the_platforms_own_assets(api_url: str) -> None:
    for path in ("/docs", "/redoc"):
        html = httpx.get(f"{api_url}{path}").text
        assert "/docs-assets/" in html
        assert "cdn." not in html and "fonts.googleapis" not in html and "https://" not in html
