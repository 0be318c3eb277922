"""The 1D and Dirac-GAN views (issue 15) in a real headless Chromium, against the real server:
hover texts that read the frame's own numbers (D(x), P(real), the push there; a fake's push
and |push|), round ticks on the critic axis shared by the lane panels, samples beyond the
plotted range counted on the border (1D; the Dirac-GAN's extent grows to hold its
trajectory), the layer toggles, and 1D frames painted over axes that Plotly leaves as they
are while training plays. One page for the module; screenshots go to tests/artifacts/."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest
from test_page import ARTIFACTS, SMALL, Page, page_in

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")

# the pixel of point i of layer t of a plot, in page coordinates, by Plotly's own axes: the 1D
# view's painted layers (div.layers) on its axes, the Dirac view's Plotly traces
PIXEL = """([id, t, i]) => {
  const gd = document.getElementById(id), fl = gd._fullLayout;
  const tr = gd.layers ? gd.layers[t] : gd._fullData[t];
  const xa = fl[(tr.xaxis || 'x').replace('x', 'xaxis')];
  const ya = fl[(tr.yaxis || 'y').replace('y', 'yaxis')];
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(tr.x[i]), r.top + ya._offset + ya.l2p(tr.y[i])];
}"""
# the hover text: the 1D view's own (an HTML tip over the plot), Plotly's on the Dirac view
HOVER_LINES = """(id) => { const tip = document.querySelector(`#${id} .ov-hover`);
  if (tip) return Array.from(tip.children, (l) => l.textContent);
  const t = document.querySelector('.hoverlayer .hovertext text.nums');
  const lines = t.querySelectorAll('tspan.line');
  return lines.length ? Array.from(lines, (l) => l.textContent) : [t.textContent]; }"""
SHOWN = """(id) => { const tip = document.querySelector(`#${id} .ov-hover`);
  return tip ? !tip.hidden : !!document.querySelector('.hoverlayer .hovertext'); }"""


@pytest.fixture(scope="module")
def page(chromium: object, live_server: str) -> Iterator[Page]:
    with page_in(chromium, live_server) as p:
        yield p


def numbers(line: str) -> list[float]:
    return [float(v) for v in NUMBER.findall(line.replace("−", "-"))]


def hover(p: Page, div: str, trace: int, index: int) -> list[str]:
    """Move the mouse onto point `index` of `trace` and return the hover text's lines."""
    p.page.mouse.move(0, 0)
    p.wait(f"!({SHOWN})('{div}')")
    x, y = p.js(PIXEL, [div, trace, index])
    p.page.mouse.move(x, y)
    p.wait(f"({SHOWN})('{div}')")
    return p.js(HOVER_LINES, div)


def tip_about(p: Page, div: str) -> dict:
    """What the 1D view's hover text is about: kind (line, fake, outside), the pointer's x."""
    return p.js(
        f"(() => {{ const d = document.querySelector('#{div} .ov-hover').dataset;"
        " return {kind: d.kind, x: Number(d.x), index: Number(d.index)}; })()"
    )


def interp(x: float, xs: list[float], ys: list[float]) -> float:
    """ys linearly interpolated at x on the increasing grid xs."""
    j = max(i for i in range(len(xs) - 1) if xs[i] <= x)
    t = (x - xs[j]) / (xs[j + 1] - xs[j])
    return ys[j] + t * (ys[j + 1] - ys[j])


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
    about = tip_about(page, "view1d")
    x = about["x"]  # the pointer's x, unrounded; the text says it to 3 decimals
    assert about["kind"] == "line" and abs(x - f["xs"][n // 2]) < 0.01 * (f["xs"][-1] - f["xs"][0])
    assert numbers(lines[0])[0] == pytest.approx(x, abs=6e-4)
    assert "P(real)" in lines[1]  # minimax: D is a probability
    assert line_value(lines, "P(real)") == pytest.approx(interp(x, f["xs"], f["d"]), abs=1e-4)
    push = interp(x, f["xs"], f["push"])
    assert line_value(lines, "push") == pytest.approx(push, rel=5e-3, abs=1e-12)
    hover_shot(page, "1d-hover-d")
    # a fake sample: its push and |push|, those of the frame's fake at that x
    shown = page.trace("view1d", 6)
    lines = hover(page, "view1d", 6, len(shown["x"]) // 2)
    x = numbers(lines[0])[0]
    j = min(range(len(f["fake"])), key=lambda k: abs(f["fake"][k] - x))
    assert tip_about(page, "view1d")["kind"] == "fake"
    assert abs(f["fake"][j] - x) < 1e-3
    assert line_value(lines, "push −") == pytest.approx(f["grad"][j], rel=5e-3, abs=1e-12)
    assert line_value(lines, "|push|") == pytest.approx(abs(f["grad"][j]), rel=5e-3, abs=1e-12)
    hover_shot(page, "1d-hover-fake")
    page.page.mouse.move(0, 0)
    # playing, the axes hold still: frames are painted, Plotly leaves the axes as they are
    view = "window.gandyn.views['1d']"
    painted, kept = page.js(f"[{view}.painted, {view}.redraw.counts.none]")
    page.page.click("#btn-play")
    page.wait(f"{view}.painted >= {painted + 3} && {view}.redraw.counts.none >= {kept + 2}")
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")
    assert page.errors == []


def test_layer_toggles_hide_the_1d_layers(page: Page) -> None:
    """The page's toggles (state.view d / real / fake / arrows) hide their 1D layers, and the
    canvas they are painted on loses them."""
    layers = {"d": [2, 4], "real": [0, 5], "fake": [1, 6], "arrows": [7]}
    visible = "(i) => document.getElementById('view1d').layers[i].visible !== false"
    # the painted pixels (alpha > 0) of the layer canvas
    inked = (
        "(() => { const c = document.querySelector('#view1d canvas.layers1d');"
        " const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < a.length; i += 4) n += a[i] > 0; return n; })()"
    )
    for name, traces in layers.items():
        assert all(page.js(visible, t) for t in traces)
        before = page.js(inked)
        page.page.click(f"#opt-{name}")  # the page's toggle (web/index.html, #view-options)
        page.wait(f"(ts) => ts.every((t) => !({visible})(t))", traces)
        assert page.js(inked) < before, name
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
        "(() => { const t = document.getElementById('view1d').layers[13];"
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
    assert tip_about(page, "view1d")["kind"] == "outside"
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
    x = tip_about(page, "view1d-2")["x"]
    assert "critic score" in lines[1]
    d = interp(x, f["xs"], f["d"])
    assert line_value(lines, "critic score") == pytest.approx(d, rel=1e-3, abs=1e-3)
    push = interp(x, f["xs"], f["push"])
    assert line_value(lines, "push") == pytest.approx(push, rel=5e-3, abs=1e-12)
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
