"""Debian's Chromium, headless, as the tests, the page benchmark and the thumbnail tool start it.

Never a downloaded browser (`playwright install` cannot reach the internet here); the flags
keep Chromium from calling home, which a closed network refuses.
"""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a started sync or async Playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
