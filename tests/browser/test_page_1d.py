"""The 1D and Dirac-GAN views (issue 15) in a real headless Chromium, against the real server:
hover texts that read the frame's own numbers (D(x), P(real), the push there; a fake's push
and |push|), round ticks on the critic axis shared by the lane panels, samples beyond the
plotted range counted on the border (1D; the Dirac-GAN's extent grows to hold its
trajectory), the layer toggles, and frames drawn as data updates (Plotly.animate without a redraw)
while training plays. One page for the module; screenshots go to tests/artifacts/."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest
from test_page import ARTIFACTS, SMALL, Page, page_in

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")

# the pixel of point i of trace t of a plot, in page coordinates
PIXEL = """([id, t, i]) => {
  const gd = document.getElementById(id), tr = gd._fullData[t], fl = gd._fullLayout;
  const xa = fl[tr.xaxis.replace('x', 'xaxis')], ya = fl[tr.yaxis.replace('y', 'yaxis')];
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(tr.x[i]), r.top + ya._offset + ya.l2p(tr.y[i])];
}"""
HOVER_LINES = """() => { const t = document.querySelector('.hoverlayer .hovertext text.nums');
  const lines = t.querySelectorAll('tspan.line');
  return lines.length ? Array.from(lines, (l) => l.textContent) : [t.textContent]; }"""


@pytest.fixture(scope="module")
def page(chromium: object, live_server: str) -> Iterator[Page]:
    with page_in(chromium, live_server) as p:
        yield p


def numbers(line: str) -> list[float]:
    return [float(v) for v in NUMBER.findall(line.replace("−", "-"))]


def hover(p: Page, div: str, trace: int, index: int) -> list[str]:
    """Move the mouse onto point `index` of `trace` and return the hover label's lines."""
    p.page.mouse.move(0, 0)
    p.wait("() => !document.querySelector('.hoverlayer .hovertext')")
    x, y = p.js(PIXEL, [div, trace, index])
    p.page.mouse.move(x, y)
    p.wait("() => !!document.querySelector('.hoverlayer .hovertext')")
    return p.js(HOVER_LINES)


def hover_shot(p: Page, name: str) -> None:
    """The viewport as it is (a full-page shot would move the mouse off the hover)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def stepped(p: Page, n: int) -> None:
    """Train n iterations while paused and wait until the frame of the last one is drawn."""
    start = p.js("window.gandyn.latest.iteration")
    p.js(f"window.gandyn.session.send({{type: 'step', n: {n}}})")
    p.wait(
        f"window.gandyn.latest.iteration === {start + n}"
        " && window.gandyn.lanes.every((l) => l.rendered === l.latest)"
    )


def line_value(lines: list[str], word: str) -> float:
    return numbers(next(line for line in lines if word in line).split("=")[-1])[0]


def test_hover_on_d_and_on_a_fake_reads_the_frame(page: Page) -> None:
    page.open({"dataset": "separated1d", "loss": "minimax", "reg": "none", **SMALL})
    page.wait("window.gandyn.kind === '1d'")
    stepped(page, 5)
    f = page.js(
        "(() => { const f = window.gandyn.latest; return {xs: Array.from(f.xs),"
        " d: Array.from(f.d_line), push: Array.from(f.g_grad_line), fake: Array.from(f.fake),"
        " grad: Array.from(f.fake_grad)}; })()"
    )
    n = len(f["xs"])
    lines = hover(page, "view1d", 4, n // 2)
    x = numbers(lines[0])[0]
    i = min(range(n), key=lambda j: abs(f["xs"][j] - x))
    assert abs(f["xs"][i] - x) < 1e-3
    assert "P(real)" in lines[1]  # minimax: D is a probability
    assert line_value(lines, "P(real)") == pytest.approx(f["d"][i], abs=1e-4)
    assert line_value(lines, "push") == pytest.approx(f["push"][i], rel=5e-3, abs=1e-12)
    hover_shot(page, "1d-hover-d")
    # a fake sample: its push and |push|, those of the frame's fake at that x
    shown = page.trace("view1d", 6)
    lines = hover(page, "view1d", 6, len(shown["x"]) // 2)
    x = numbers(lines[0])[0]
    j = min(range(len(f["fake"])), key=lambda k: abs(f["fake"][k] - x))
    assert abs(f["fake"][j] - x) < 1e-3
    assert line_value(lines, "push −") == pytest.approx(f["grad"][j], rel=5e-3, abs=1e-12)
    assert line_value(lines, "|push|") == pytest.approx(abs(f["grad"][j]), rel=5e-3, abs=1e-12)
    hover_shot(page, "1d-hover-fake")
    page.page.mouse.move(0, 0)
    # playing, the axes hold still and the frames are data updates of the traces that changed
    updated = page.js("window.gandyn.views['1d'].redraw.counts.data")
    page.page.click("#btn-play")
    page.wait(f"window.gandyn.views['1d'].redraw.counts.data >= {updated + 2}")
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")
    assert page.errors == []


def test_layer_toggles_hide_the_1d_layers(page: Page) -> None:
    """The page's toggles (state.view d / real / fake / arrows) hide their 1D traces."""
    layers = {"d": [2, 4], "real": [0, -1], "fake": [1, 6], "arrows": [7]}
    # trace i visible; -1: the real rug (a layout shape)
    visible = (
        "(i) => { const gd = document.getElementById('view1d');"
        " return i < 0 ? gd.layout.shapes.length === 1 : gd.data[i].visible !== false; }"
    )
    for name, traces in layers.items():
        assert all(page.js(visible, t) for t in traces)
        page.page.click(f"#opt-{name}")  # the page's toggle (web/index.html, #view-options)
        page.wait(f"(ts) => ts.every((t) => !({visible})(t))", traces)
        others = [t for k, ts in layers.items() if k != name for t in ts]
        assert all(page.js(visible, t) for t in others), name
        page.page.click(f"#opt-{name}")
        page.wait(f"(ts) => ts.every((t) => ({visible})(t))", traces)
    # the page names the curves in its legend row; an exported image carries a Plotly legend
    svg = page.js(
        "Plotly.toImage(window.gandyn.views['1d'].exportFigure(),"
        " {format: 'svg', width: 900, height: 560}).then(decodeURIComponent)"
    )
    assert "fake density" in svg and "optimal D" in svg
    assert "optimal D" in page.js("document.getElementById('legend').textContent")
    assert page.errors == []


def test_samples_beyond_the_range_are_counted_on_the_border(page: Page) -> None:
    # an unregularised critic with a large step throws the fakes past x = 5 within 10 steps
    page.open(
        {
            "dataset": "separated1d",
            "loss": "wgan",
            "reg": "none",
            "opt_g.lr": "0.01",
            "opt_d.lr": "0.01",
            **SMALL,
        }
    )
    page.wait("window.gandyn.kind === '1d' && window.gandyn.latest.iteration === 0")
    stepped(page, 10)
    f = page.js(
        "(() => { const f = window.gandyn.latest; return {lo: f.extent[0], hi: f.extent[1],"
        " fake: Array.from(f.fake), real: Array.from(f.real)}; })()"
    )
    beyond = [v for v in f["fake"] if v > f["hi"]]
    assert beyond  # the setting above does throw some out (seeded)
    out = page.js(
        "(() => { const t = document.getElementById('view1d').data[13];"
        " return {x: t.x, text: t.text, hover: t.customdata}; })()"
    )
    # two slots a group (real, fake; left, right), a count in those with samples beyond
    counted = [i for i, text in enumerate(out["text"]) if text]
    right = next(i for i in counted if out["x"][i] == f["hi"] and "fake" in out["hover"][i])
    assert int(out["text"][right]) == len(beyond)
    assert f"farthest at {max(beyond):.3g})" in out["hover"][right]
    assert len(out["x"]) == 4
    assert len(counted) == int(any(v < f["lo"] for v in f["fake"])) + 1 + sum(
        any(c(v) for v in f["real"]) for c in (lambda v: v < f["lo"], lambda v: v > f["hi"])
    )
    lines = hover(page, "view1d", 13, right)
    assert f"{len(beyond)} fake samples right of" in lines[0]
    # a critic has no optimal D to draw, and the legend row does not name one
    legend = page.js("document.getElementById('legend').textContent")
    assert "undecided" in legend and "optimal D" not in legend
    page.shot("1d-beyond-the-range")
    page.page.mouse.move(0, 0)
    assert page.errors == []


def round_ticks(ticks: list[float]) -> float:
    """The step of a list of round ticks (1, 2, 2.5 or 5 times a power of ten), else fail."""
    assert len(ticks) >= 3, ticks
    step = ticks[1] - ticks[0]
    mant = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mant - m) for m in (1, 2, 2.5, 5, 10)) < 1e-6, ticks
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks), ticks
    return step


def test_the_critic_axis_has_round_ticks_shared_by_the_lanes(page: Page) -> None:
    page.page.set_viewport_size({"width": 1280, "height": 720})
    page.open("preset=js_blind_to_distance&lecture=1")
    page.wait(
        "window.gandyn.lanes.length === 3 && window.gandyn.lanes.every((l) => l.rendered)"
        " && document.getElementById('view1d-3') && !document.getElementById('view1d-3').hidden"
    )
    stepped(page, 5)
    axes = page.js(
        "['view1d', 'view1d-2', 'view1d-3'].map((id) => { const gd = document.getElementById(id);"
        " return {ticks: gd.layout.yaxis2.tickvals, density: gd.layout.yaxis.range,"
        " shown: Array.from(gd.querySelectorAll('.y2tick text'), (t) => t.textContent)}; })"
    )
    steps = {round_ticks(a["ticks"]) for a in axes}
    assert len(steps) == 1  # the same step in every panel (the shared D scale)
    assert len({tuple(a["density"]) for a in axes}) == 1
    for a in axes:  # the labels a person reads are those round numbers
        assert [numbers(t)[0] for t in a["shown"]] == pytest.approx(a["ticks"])
    # hover on lane 2's critic: the score and the push at that x of its own frame
    f = page.js(
        "(() => { const f = window.gandyn.lanes[1].latest; return {xs: Array.from(f.xs),"
        " d: Array.from(f.d_line), push: Array.from(f.g_grad_line)}; })()"
    )
    lines = hover(page, "view1d-2", 4, len(f["xs"]) // 3)
    i = min(range(len(f["xs"])), key=lambda j: abs(f["xs"][j] - numbers(lines[0])[0]))
    assert "critic score" in lines[1]
    assert line_value(lines, "critic score") == pytest.approx(f["d"][i], rel=1e-3, abs=1e-3)
    assert line_value(lines, "push") == pytest.approx(f["push"][i], rel=5e-3, abs=1e-12)
    hover_shot(page, "1d-three-lanes-1280x720-lecture-hover")
    page.page.mouse.move(0, 0)
    page.page.set_viewport_size({"width": 1280, "height": 800})
    assert page.errors == []


def test_the_dirac_view_hovers_on_d_and_on_the_fake(page: Page) -> None:
    page.open({"dataset": "dirac", "loss": "nonsaturating"})
    page.wait("window.gandyn.kind === 'dirac'")
    f = page.js(
        "(() => { const f = window.gandyn.latest; return {xs: Array.from(f.xs), psi: f.psi,"
        " theta: f.theta, d: Array.from(f.d_line), push: Array.from(f.g_grad_line),"
        " grad: f.fake_grad[0], prob: f.display === 'probability'}; })()"
    )
    assert f["prob"]  # nonsaturating: D is shown as a probability too
    lines = hover(page, "viewDirac", 5, len(f["xs"]) // 4)
    i = min(range(len(f["xs"])), key=lambda j: abs(f["xs"][j] - numbers(lines[0])[0]))
    assert line_value(lines, "ψ x") == pytest.approx(f["psi"] * f["xs"][i], abs=1e-3)
    assert line_value(lines, "P(real)") == pytest.approx(f["d"][i], abs=1e-4)
    assert line_value(lines, "push") == pytest.approx(f["push"][i], rel=5e-3, abs=1e-12)
    lines = hover(page, "viewDirac", 7, 0)  # the foot of δ_θ (its tip may sit on the D line)
    assert line_value(lines, "θ") == pytest.approx(f["theta"], rel=1e-3)
    assert line_value(lines, "push −") == pytest.approx(f["grad"], rel=5e-3, abs=1e-12)
    assert line_value(lines, "|push|") == pytest.approx(abs(f["grad"]), rel=5e-3, abs=1e-12)
    hover_shot(page, "dirac-hover-fake")
    page.page.mouse.move(0, 0)
    assert page.errors == []
