"""The metric charts and the "how to read this" layer (issue 15) in real headless Chromium.

What is checked is what the charts draw (read from the Plotly figure of #metrics): the
charts a preset names and the others folded away (``setShown``). Screenshots go to
tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_page import SMALL, Page

pytestmark = pytest.mark.browser

CHARTS = ["losses", "W₁", "coverage", "‖∇ₓD‖", "penalties", "JS, KL", "Fréchet", "Parzen NLL"]


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> str:
    import os

    url = os.environ.get("GANDYN_TEST_URL")
    return url.rstrip("/") if url else request.getfixturevalue("live_server")


@pytest.fixture(scope="module")
def page(chromium: object, base_url: str) -> Iterator[Page]:
    """One page for the module, at the issue's 1280 x 800."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    p = Page(context, base_url)
    p.open({"dataset": "ring8", "loss": "wgan", **SMALL})
    yield p
    p.close()
    context.close()


def chart_titles(p: Page) -> list[str]:
    """The titles of the charts drawn, in order (the bold first word of each title)."""
    return p.js(
        "(document.getElementById('metrics').layout.annotations || [])"
        ".filter((a) => a.name === 'chart-title').map((a) => a.text.match(/<b>(.*?)<\\/b>/)[1])"
    )


def test_set_shown_folds_away_the_charts_not_named(page: Page) -> None:
    page.wait("document.getElementById('metrics').layout")
    assert chart_titles(page) == CHARTS
    page.js("window.gandyn.metrics.setShown(['JS, KL', 'coverage'])")
    assert chart_titles(page) == ["coverage", "JS, KL"]  # in CHARTS' order
    axes = page.js(
        "Object.keys(document.getElementById('metrics').layout)"
        ".filter((k) => /^yaxis\\d*$/.test(k))"
    )
    assert sorted(axes) == ["yaxis", "yaxis2"]
    with pytest.raises(Exception, match="unknown chart"):
        page.js("window.gandyn.metrics.setShown(['nope'])")
    page.js("window.gandyn.metrics.setShown([])")
    assert page.js("document.getElementById('metrics').hidden") is True
    page.js("window.gandyn.metrics.setShown(null)")
    assert page.js("document.getElementById('metrics').hidden") is False
    assert chart_titles(page) == CHARTS
    assert page.errors == []
