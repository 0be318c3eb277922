"""Debian's Chromium, started once for all the browser tests (tools/chromium.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.chromium import CHROMIUM, launch

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A headless Chromium browser; the tests skip where Debian's chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()
