"""What a lecturer sees without scrolling (issue 15), in a real headless Chromium.

Every preset of the gallery, opened on one page, at 1280 x 800 and 1280 x 720 in lecture
mode: its plots (one to four lanes) and the charts its note talks about (``charts`` of
``GET /api/presets/NAME``) are inside the window, and nothing is wider than it. At 800 x 600
the plot comes first; at 390 x 844 nothing is wider than the screen or cut off. The readout
of iterations and frames per second, and the preset panel saying "modified" and "custom".
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from test_page import Page, sync_api

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (1280, 720)]
# The hardest preset of each arrangement the gallery has (kind x panels side by side x charts
# named); GANDYN_LAYOUT_ALL=1 checks every preset (29: about 4 minutes on a busy machine).
HARDEST = [
    "batchnorm_in_g_or_d",  # 2D, three panels, two charts
    "js_blind_to_distance",  # 1D, three panels, two charts
    "clip_vs_gradient_penalty",  # 2D, two panels, two charts
    "minimax_vs_nonsaturating",  # 1D, two panels, two charts
    "frechet_blind_to_modes",  # 2D, one panel, two charts
    "dirac_gan",  # four Dirac-GAN lanes in one plane
    "ema_generator",  # one Dirac-GAN panel (the tallest view)
    "mode_seeking_vs_covering",  # 1D lanes in one plot
]
# a screenshot of each number of lanes side by side (and of the one plot of four lanes)
SHOTS = {"frechet_blind_to_modes", "clip_vs_gradient_penalty", "js_blind_to_distance", "dirac_gan"}

# The boxes of what must be on screen, and whether they are: every plot of the lanes in view,
# every chart the preset names drawn in #metrics (only those while "more charts" is folded),
# the page no wider than the window.
AXES = "Object.keys(document.getElementById('metrics').layout || {})" + (
    ".filter((k) => /^xaxis\\d*$/.test(k)).length"
)
ON_SCREEN = f"""(charts) => {{
  const W = innerWidth, H = innerHeight;
  const fit = (r) => r.top >= 0 && r.left >= 0 && r.bottom <= H + 1 && r.right <= W + 1;
  const plots = [...document.querySelectorAll(
    '#view-wrap .lane-panel:not([hidden]) .plot.view:not([hidden])')];
  const m = document.getElementById('metrics');
  const titles = ((m.layout && m.layout.annotations) || []).map((a) => a.text || '');
  const drawn = charts.every((c) => titles.some((t) => t.includes('<b>' + c + '</b>')));
  const box = (e) => e.getBoundingClientRect();
  return {{
    plots: plots.map((p) => box(p).toJSON()),
    plotsIn: plots.length > 0 && plots.every((p) => fit(box(p)) && box(p).height > 100),
    chartsIn: !charts.length || (!m.hidden && fit(box(m)) && drawn && {AXES} === charts.length),
    metrics: m.getBoundingClientRect().toJSON(),
    wide: document.documentElement.scrollWidth <= W,
    fit: window.gandyn.fit,
  }};
}}"""


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("GANDYN_TEST_URL")
    return url.rstrip("/") if url else request.getfixturevalue("live_server")


@pytest.fixture(scope="module")
def presets(base_url: str) -> list[dict]:
    names = [p["name"] for p in httpx.get(f"{base_url}/api/presets", timeout=10).json()]
    if not os.environ.get("GANDYN_LAYOUT_ALL"):
        assert set(HARDEST) <= set(names)
        names = HARDEST
    return [httpx.get(f"{base_url}/api/presets/{n}", timeout=10).json() for n in names]


@pytest.fixture(scope="module")
def lecture(chromium: object, base_url: str) -> Iterator[Page]:
    """One page in lecture mode for the module: a projector's 1280 x 800."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    p = Page(context, base_url).open({"preset": "ring8_wgan_gp", "lecture": "1"})
    yield p
    p.close()
    context.close()


def opened(p: Page, detail: dict) -> None:
    """The preset loaded, every lane drawn, its note in the panel."""
    p.wait(
        "([n, k]) => window.gandyn.presetInfo?.name === n && window.gandyn.lanes.length === k"
        " && window.gandyn.lanes.every((l) => l.latest && l.rendered === l.latest)",
        [detail["name"], 1 + len(detail["lanes"])],
    )


def on_screen(p: Page, detail: dict, size: tuple[int, int]) -> None:
    try:
        p.wait(
            f"(c) => {{ const s = ({ON_SCREEN})(c); return s.plotsIn && s.chartsIn && s.wide; }}",
            detail["charts"],
        )
    except sync_api.TimeoutError:
        state = p.js(ON_SCREEN, detail["charts"])
        pytest.fail(f"{detail['name']} at {size}: {state}")


def test_every_preset_shows_its_plots_and_its_charts_without_scrolling(
    lecture: Page, presets: list[dict]
) -> None:
    p = lecture
    assert p.page.locator("#controls").is_hidden()  # folded below 1500 px in a lecture
    for i, detail in enumerate(presets):
        p.js("(n) => window.gandyn.openPreset(n)", detail["name"])
        opened(p, detail)
        # alternate the order of the sizes: one resize a preset
        for w, h in SIZES if i % 2 == 0 else SIZES[::-1]:
            p.page.set_viewport_size({"width": w, "height": h})
            on_screen(p, detail, (w, h))
            if detail["name"] in SHOTS:
                p.page.screenshot(path=str(shot_dir() / f"layout-{w}x{h}-{detail['name']}.png"))
        # the charts the note does not name fold away behind a visible control
        more = p.page.locator("#metrics-more")
        sync_api.expect(more).to_be_visible()
        assert f"more charts ({8 - len(detail['charts'])})" in more.inner_text()
    assert p.errors == []


def test_more_charts_unfolds_the_others_and_folds_them_again(lecture: Page) -> None:
    p = lecture
    p.page.set_viewport_size({"width": 1280, "height": 720})
    p.js("window.gandyn.openPreset('js_blind_to_distance')")
    p.wait("window.gandyn.presetInfo?.name === 'js_blind_to_distance'")
    p.wait(f"{AXES} === 2")
    plot_h = p.js("window.gandyn.fit.plotH")
    p.page.click("#metrics-more")
    p.wait(f"{AXES} === 8")
    sync_api.expect(p.page.locator("#metrics-more")).to_have_attribute("aria-expanded", "true")
    assert p.js("window.gandyn.fit.plotH") == plot_h  # the plots keep their size
    p.page.click("#metrics-more")
    p.wait(f"{AXES} === 2")


def shot_dir():
    from test_page import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
