"""The spectrum panel (issue 13) in a real headless Chromium, against the real server: off by
default; its toggle asks the server for spectrum events and shows one trace per lane (the
lane's eigenvalues, in its colour). Screenshots at 1280 x 800 and in lecture mode at
1280 x 720 go to tests/artifacts/."""

from __future__ import annotations

import pytest
from test_page import SMALL, Page

from gan_core.spectrum import LIVE_K

pytestmark = pytest.mark.browser

TRACES = "document.getElementById('spectrum').data || []"


@pytest.mark.parametrize(
    ("size", "query", "name"),
    [
        ((1280, 800), {}, "spectrum-two-lanes-1280x800"),
        ((1280, 720), {"lecture": "1"}, "spectrum-two-lanes-1280x720-lecture"),
    ],
)
def test_the_spectrum_toggle_shows_each_lanes_eigenvalues(
    chromium: object,
    live_server: str,
    size: tuple[int, int],
    query: dict,
    name: str,
) -> None:
    context = chromium.new_context(viewport={"width": size[0], "height": size[1]})
    page = Page(context, live_server)
    try:
        page.open({"dataset": "ring8", **SMALL, **query})
        assert page.js("document.getElementById('spectrum-wrap').hidden")
        page.page.click("#lane-add")
        page.wait("window.gandyn.lanes.length === 2")
        page.page.click("#opt-spectrum")
        page.page.click("#btn-step")
        page.wait(f"({TRACES}).length === 2 && ({TRACES}).every((t) => t.x.length > 0)")
        traces = page.js(f"({TRACES}).map((t) => ({{n: t.x.length, color: t.marker.color}}))")
        assert [t["n"] for t in traces] == [LIVE_K, LIVE_K]  # SMALL: above the exact limit
        assert traces[0]["color"] != traces[1]["color"]
        page.wait("location.search.includes('spectrum')")  # the link keeps it (150 ms later)
        page.page.locator("#spectrum-wrap").scroll_into_view_if_needed()
        page.shot(name)
        assert page.errors == []
    finally:
        page.close()
        context.close()
