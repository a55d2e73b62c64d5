"""The browser tests' set-up: Debian's Chromium or a failure naming it under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser


def test_a_missing_chromium_that_cannot_be_installed_fails_under_ci_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(browser.os, "geteuid", lambda: 1000)  # not root: no apt-get
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is not installed"):
        browser.chromium_or_fail()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        browser.chromium_or_fail()
