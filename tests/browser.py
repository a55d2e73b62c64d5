"""A real headless browser for the tests: Debian's Chromium, driven by Playwright.

Playwright's own browser builds are never downloaded: it drives the system's Chromium
(`/usr/bin/chromium`). When that is missing and the tests run as root, it is installed
with apt-get; when it still cannot be had, the test fails under `CI=true` naming chromium,
and skips elsewhere (tests/services.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.services import unavailable

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing of its own on the network: no QUIC, no component updates, no
# sync, no background fetches.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def _apt_get(*args: str) -> bool:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", *args], env=environment, capture_output=True, check=False)
    return done.returncode == 0


def chromium_or_fail() -> Path:
    """Debian's Chromium, installed first when it is missing and the tests run as root."""
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    # The package lists may be stale or absent on a fresh machine: update, then retry.
    if not CHROMIUM.exists() and can_install and not _apt_get("install", "-y", "chromium"):
        _apt_get("update")
        _apt_get("install", "-y", "chromium")
    if not CHROMIUM.exists():
        unavailable(f"chromium is not installed ({CHROMIUM}): apt-get install -y chromium")
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = chromium_or_fail()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def confine_to(page: Page, url: str) -> list[str]:
    """Abort every request `page` makes outside `url`'s origin; the list returned fills
    with the URLs that were attempted."""
    allowed = origin(url)
    attempted: list[str] = []

    def route(route: Route) -> None:
        if origin(route.request.url) == allowed:
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return attempted


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """A screenshot under tests/artifacts/ (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
