"""Lanes on the page (issue 12) in a real headless Chromium, against the real server.

What is checked is what a lecturer sees and what the server runs: one panel per lane with
its title, one colour scale for D in every panel (read from each Plotly figure), one line
per lane on the metric charts; the lane bar's add, fork, close and keep reach the server
(its acks' lane sets) and change the panels; a copied link reloaded gives the same lanes,
bit for bit; a "try next" of a lane mode opens a lane and leaves the lane in view as it
was; the overlays of 1D and Dirac-GAN lanes. Screenshots at the projector sizes of the
issue (2 lanes at 1280 x 720, 4 at 1920 x 1080, lecture mode) go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_page import METRICS_FIG, SMALL, Page, page_in

pytestmark = pytest.mark.browser

LANES = "window.gandyn.lanes"


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> str:
    import os

    url = os.environ.get("GANDYN_TEST_URL")
    return url.rstrip("/") if url else request.getfixturevalue("live_server")


@pytest.fixture
def page(chromium: object, base_url: str) -> Iterator[Page]:
    with page_in(chromium, base_url, (1600, 1000)) as p:
        yield p


def lanes_of(p: Page) -> list[dict]:
    """The lanes as the page holds them (from the server's last ack)."""
    return p.js(
        f"{LANES}.map((l) => ({{id: l.id, title: l.title, loss: l.config.loss,"
        " iteration: l.iteration, forked: l.forked, drawn: l.drawn}))"
    )


def heads(p: Page) -> list[str]:
    """The titles of the visible lane panels, in order."""
    return p.js(
        "Array.from(document.querySelectorAll("
        "'.lane-panel:not([hidden]) .lane-head:not([hidden])'))"
        ".map((h) => h.querySelector('.lane-title').textContent)"
    )


def drawn_at(p: Page, iteration: int) -> None:
    """Every lane's frame of this iteration is drawn."""
    p.wait(
        f"(i) => {LANES}.every((l) => l.latest && l.latest.iteration === i"
        " && l.rendered === l.latest)",
        iteration,
    )


def metric_lanes(p: Page, series: str) -> list[int]:
    """The lanes of the metric chart's traces of one series."""
    return p.js(
        f"(s) => {METRICS_FIG}.data"
        ".filter((t) => t.meta && t.meta.series === s).map((t) => t.meta.lane)",
        series,
    )


def test_lanes_from_the_lane_bar_reach_the_server_and_change_the_panels(page: Page) -> None:
    page.open({"dataset": "ring8", "loss": "wgan", **SMALL})
    page.wait("window.gandyn.session.waiting.size === 0")
    assert len(lanes_of(page)) == 1 and heads(page) == []  # one lane: the page of one run
    # add: a lane from the start with the settings panel's values, then change its loss
    page.page.click("#lane-add")
    page.wait(f"{LANES}.length === 2 && window.gandyn.selected === {LANES}[1].id")
    page.page.select_option("select[data-path='loss']", "hinge")
    page.wait(f"{LANES}[1].config.loss === 'hinge'")
    assert [lane["loss"] for lane in lanes_of(page)] == ["wgan", "hinge"]
    page.wait("document.querySelectorAll('.lane-panel:not([hidden])').length === 2")
    assert heads(page) == ["reference", "loss: hinge"]
    assert "lane 2" in page.page.locator("#controls-lane").inner_text().lower()
    # both lanes step together; the same colour scale in both panels
    page.page.click("#btn-step")
    drawn_at(page, 1)
    ranges = page.js(
        "Array.from(document.querySelectorAll("
        "'.lane-panel:not([hidden]) .plot.view[data-kind=\"2d\"]'))"
        ".map((d) => [d.layers[0].meta.colorRange, d.layers[0].meta.undecided])"
    )
    assert len(ranges) == 2
    (lo1, hi1), u1 = ranges[0]
    (lo2, hi2), u2 = ranges[1]
    assert u1 - lo1 == pytest.approx(u2 - lo2) and hi1 - u1 == pytest.approx(hi2 - u2)
    assert hi1 - lo1 > 0
    ids = [lane["id"] for lane in lanes_of(page)]
    d_loss_lanes = (
        f"{METRICS_FIG}.data.filter((t) => t.meta && t.meta.series === 'd_loss')"
        ".map((t) => t.meta.lane)"
    )
    page.wait(f"(ids) => JSON.stringify({d_loss_lanes}) === JSON.stringify(ids)", ids)
    # every series of a chart once per lane: the notes that speak of recall have it per lane
    for series in ("g_loss", "high_quality", "precision", "recall"):
        assert metric_lanes(page, series) == ids, series
    colors = page.js(
        f"{METRICS_FIG}.data"
        ".filter((t) => t.meta && t.meta.series === 'd_loss')"
        ".map((t) => t.line.color)"
    )
    assert len(set(colors)) == 2
    page.shot("lanes-2d-two")
    # fork lane 1 as it is now: a third lane at its iteration, marked as a fork
    page.page.locator(".lane-chip .lane-pick").nth(0).click()
    page.wait(f"window.gandyn.selected === {LANES}[0].id")
    page.page.click("#lane-fork")
    page.wait(f"{LANES}.length === 3")
    fork = lanes_of(page)[2]
    assert fork["forked"]["lane"] == ids[0] and fork["iteration"] == 1
    page.wait("document.querySelectorAll('.lane-panel:not([hidden])').length === 3")
    assert (
        "fork of lane 1 at 1"
        in page.page.locator(".lane-panel[data-pos='2'] .lane-it").inner_text()
    )
    # close it, then keep only lane 2
    page.page.locator(f".lane-close[data-lane='{fork['id']}']").click()
    page.wait(f"{LANES}.length === 2")
    page.page.locator(".lane-chip .lane-pick").nth(1).click()
    page.page.click("#lane-keep")
    page.wait(f"{LANES}.length === 1")
    assert lanes_of(page)[0]["id"] == ids[1] and lanes_of(page)[0]["loss"] == "hinge"
    page.wait("document.querySelectorAll('.lane-panel:not([hidden])').length === 1")
    assert page.js("window.gandyn.state.config.loss") == "hinge"
    assert page.errors == []


def test_a_copied_link_rebuilds_the_same_lanes(page: Page, browser_pair: object) -> None:
    page.open({"dataset": "ring8", "loss": "wgan", **SMALL})
    page.page.click("#lane-add")
    page.wait(f"{LANES}.length === 2")
    page.js("window.gandyn.session.send({type: 'step', n: 3})")
    page.wait(f"{LANES}.every((l) => l.iteration === 3)")
    # a fork of lane 1 with a live change of its learning rate, at iteration 3
    page.page.locator(".lane-chip .lane-pick").nth(0).click()
    page.page.click("#lane-fork")
    page.wait(f"{LANES}.length === 3")
    page.page.fill("input[data-path='opt_d.lr'][type='number']", "0.002")
    page.page.press("input[data-path='opt_d.lr'][type='number']", "Enter")
    page.wait(f"{LANES}[2].config.opt_d.lr === 0.002")
    page.wait("window.gandyn.session.waiting.size === 0")
    page.page.click("#btn-link")
    page.wait("!!window.gandyn.lastLink")
    link, says = page.js("[window.gandyn.lastLink, window.gandyn.lastLinkSays]")
    assert "replay=" in link and len(link) <= 8000
    assert "these 3 lanes" in says and "bit for bit" in says
    drawn_at(page, 3)
    before = page.js(f"{LANES}.map((l) => [l.config, Array.from(l.latest.fake)])")
    other = Page(browser_pair, page.base)
    try:
        other.page.goto(link)
        other.wait("window.gandyn && window.gandyn.ready")
        other.wait(f"{LANES}.length === 3 && {LANES}.every((l) => l.iteration === 3)")
        drawn_at(other, 3)
        after = other.js(f"{LANES}.map((l) => [l.config, Array.from(l.latest.fake)])")
        assert [c for c, _ in after] == [c for c, _ in before]
        assert [f for _, f in after] == [f for _, f in before]  # the same samples, bit for bit
        assert other.js(f"{LANES}[2].forked.at") == 3
        assert other.errors == []
    finally:
        other.close()


@pytest.fixture
def browser_pair(chromium: object) -> Iterator[object]:
    """A second context for the page that opens a copied link."""
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    yield context
    context.close()


def test_try_next_of_a_lane_mode_opens_a_lane_beside_the_one_in_view(
    chromium: object, base_url: str
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    p = Page(context, base_url)
    try:
        p.open({"preset": "minimax_vs_nonsaturating", "lecture": "1"})
        p.wait(
            f"{LANES}.length === 2 && window.gandyn.presetInfo?.name === 'minimax_vs_nonsaturating'"
        )
        p.wait("document.querySelectorAll('.lane-panel:not([hidden])').length === 2")
        assert heads(p) == [lane["title"] for lane in lanes_of(p)]
        p.js("window.gandyn.session.send({type: 'step', n: 60})")
        p.wait(f"{LANES}.every((l) => l.iteration >= 60)")
        p.wait("window.gandyn.session.waiting.size === 0")
        drawn_at(p, p.js(f"{LANES}[0].iteration"))
        # the same axes in both panels: density and D (scales.js)
        axes = p.js(
            "['view1d', 'view1d-2'].map((id) => { const l = document.getElementById(id).layout;"
            " return [l.yaxis.range, l.yaxis2.range]; })"
        )
        assert axes[0] == axes[1]
        p.shot("lanes-1d-two-1280x720-lecture")
        first = lanes_of(p)[0]
        fork_item = p.page.locator("#preset-try button.try", has_text="from this moment").first
        assert "fork" in fork_item.inner_text()
        fork_item.click()
        p.wait(f"{LANES}.length === 3")
        lanes = lanes_of(p)
        assert lanes[0]["loss"] == first["loss"]  # the lane in view did not change
        assert lanes[2]["forked"]["lane"] == first["id"]
        assert lanes[2]["iteration"] == first["iteration"]
        assert p.js("window.gandyn.selected") == lanes[2]["id"]
        # a number changed on the fork: "modified", and a copied link says so again
        lr = p.js(f"{LANES}[2].config.opt_d.lr")
        p.page.click("#btn-settings")  # a lecture at 1280 x 720 starts with them folded
        p.wait("!document.body.classList.contains('settings-closed')")
        box = "input[data-path='opt_d.lr'][type='number']"
        p.page.fill(box, str(lr * 2))
        p.page.press(box, "Enter")
        p.wait("window.gandyn.presetStatus === 'modified'")
        p.wait("window.gandyn.session.waiting.size === 0")
        p.js("document.activeElement.blur()")
        p.page.keyboard.press("l")  # out of lecture mode: its top bar has no "Copy link"
        p.page.click("#btn-link")
        p.wait("!!window.gandyn.lastLink")
        other = Page(context, p.base)
        try:
            other.page.goto(p.js("window.gandyn.lastLink"))
            other.wait(f"{LANES}.length === 3 && window.gandyn.presetStatus === 'modified'")
            edits = other.page.locator("#preset-edits").inner_text()
            assert f"opt_d.lr {lr:g} → {lr * 2:g}" in edits, edits
            assert other.js("new URL(location.href).searchParams.get('preset')") == (
                "minimax_vs_nonsaturating"
            )
            assert other.errors == []
        finally:
            other.close()
        assert p.errors == []
    finally:
        p.close()
        context.close()


def test_1d_and_dirac_lanes_overlay_in_one_plot(chromium: object, base_url: str) -> None:
    context = chromium.new_context(viewport={"width": 1920, "height": 1080})
    p = Page(context, base_url)
    try:
        p.open({"preset": "lsgan_and_hinge", "lecture": "1"})
        p.wait(f"{LANES}.length === 3 && window.gandyn.presetInfo?.overlay === true")
        p.wait("!document.getElementById('viewOverlay1d').hidden")
        p.wait(
            "(document.getElementById('viewOverlay1d').data || [])"
            ".filter((t) => t.meta && t.meta.series === 'd_line').length === 3"
        )
        p.shot("lanes-1d-overlay-1920x1080-lecture")
        # Dirac-GAN: four trajectories in one plane, each lane's eigenvalues beside it
        p.js("window.gandyn.openPreset('dirac_gan')")
        p.wait(f"{LANES}.length === 4 && window.gandyn.kind === 'dirac'")
        p.js("window.gandyn.session.send({type: 'step', n: 80})")
        p.wait(f"{LANES}.every((l) => l.iteration >= 80)")
        p.wait("!document.getElementById('viewOverlayDirac').hidden")
        drawn_at(p, p.js(f"{LANES}[0].iteration"))
        div = "document.getElementById('viewOverlayDirac')"
        lanes_drawn = p.js(f"{div}.data.filter((t) => t.meta).map((t) => t.meta.lane)")
        assert lanes_drawn == [lane["id"] for lane in lanes_of(p)]
        assert p.js(f"{div}.layout.annotations[0].text.split('flow λ').length - 1") == 4
        p.shot("lanes-dirac-overlay-1920x1080-lecture")
        # the user may ask for panels instead: four small multiples, titled
        p.page.uncheck("#lane-overlay")
        p.wait("document.querySelectorAll('.lane-panel:not([hidden])').length === 4")
        assert heads(p) == [lane["title"] for lane in lanes_of(p)]
        drawn_at(p, p.js(f"{LANES}[0].iteration"))
        p.shot("lanes-dirac-four-1920x1080-lecture")
        assert p.errors == []
    finally:
        p.close()
        context.close()
