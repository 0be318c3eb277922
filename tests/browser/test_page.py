"""The lab page in a real headless Chromium (Debian's), against the real server.

What is checked is what a student sees: plots that contain the right data (read from the
Plotly graph divs), controls that change the server's run, errors next to their control,
links that reproduce a run, files that download. Screenshots of every view go to
tests/artifacts/ (gitignored) for a human to look at.

Set GANDYN_TEST_URL=http://127.0.0.1:PORT to run against a server you started yourself.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT = 20_000  # ms, for every wait on a condition
# small networks so that the tests do not wait on training
SMALL = {"g_hidden": "32,32", "d_hidden": "32,32", "batch_size": "64"}

# The metric charts as one figure ({layout, data}, a JS expression): the page draws a Plotly
# figure a row of charts (#metrics .metrics-row, web/metrics.js); here their axes are numbered
# through the rows as the charts are (chart k: xaxis k, yaxis k; a right axis 100 + ...), so
# that a test reads "chart 6" whatever row it is in.
METRICS_FIG = """(() => {
  const layout = {annotations: [], shapes: []}, data = [];
  for (const d of document.querySelectorAll('#metrics .metrics-row')) {
    if (!d.layout) continue;
    const first = +d.dataset.first;
    const n = Object.keys(d.layout).filter((k) => /^xaxis\\d*$/.test(k)).length;
    const num = (a) => { const j = +(a || 1); return j <= n ? first + j : 100 + first + j; };
    const ren = (ref) => typeof ref !== 'string' ? ref : ref.replace(/^([xy])(\\d*)( domain)?$/,
      (_, c, a, dom) => c + (num(a) === 1 ? '' : num(a)) + (dom || ''));
    for (const [k, v] of Object.entries(d.layout)) {
      const m = /^([xy])axis(\\d*)$/.exec(k);
      if (m) {
        const G = num(m[2]);
        const ax = {...v, anchor: ren(v.anchor), overlaying: ren(v.overlaying)};
        layout[m[1] + 'axis' + (G === 1 ? '' : G)] = ax;
      } else if (k === 'annotations' || k === 'shapes') {
        layout[k].push(...v.map((a) => ({...a, xref: ren(a.xref), yref: ren(a.yref)})));
      } else if (!(k in layout)) layout[k] = v;
    }
    data.push(...d.data.map((t) => ({...t, xaxis: ren(t.xaxis || 'x'),
      yaxis: ren(t.yaxis || 'y')})));
  }
  return {layout, data};
})()"""
READY = "window.gandyn && window.gandyn.ready && window.gandyn.stats.framesRendered > 0"


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("GANDYN_TEST_URL")
    return url.rstrip("/") if url else request.getfixturevalue("live_server")


@pytest.fixture(scope="module")
def browser(chromium: object) -> Iterator[object]:
    """One browser context for the module (so Plotly is fetched once); a page per test."""
    context = chromium.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    yield context
    context.close()


# Plotly has twice (in about 20 runs of the suite, both under heavy load) written NaN into the
# axis lines of some figure: the console error alone does not say which. This init script
# makes the error say it: the path's element, its ancestors and the stack that wrote it.
NAN_PATHS = """(() => {
  const set = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (name === 'd' && typeof value === 'string' && value.includes('NaN')) {
      const chain = [];
      for (let e = this; e && e.tagName && chain.length < 8; e = e.parentNode)
        chain.push(e.tagName + (e.id ? '#' + e.id : '') + '.' + (e.getAttribute('class') || ''));
      console.error('NaN path ' + value.slice(0, 60) + ' in ' + chain.join(' < ')
        + ' | written by ' + new Error().stack.split('\\n').slice(2, 10).join(' | '));
    }
    return set.call(this, name, value);
  };
})();"""


class Page:
    """A page with its console errors collected (NaN paths with where they were written)."""

    def __init__(self, context: object, base_url: str) -> None:
        self.base = base_url
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT)
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.add_init_script(NAN_PATHS)

    def open(self, query: dict[str, str] | str = "") -> Page:
        q = query if isinstance(query, str) else urlencode(query, safe=",:")
        self.page.goto(f"{self.base}/{'?' + q if q else ''}")
        self.wait(READY)
        return self

    def wait(self, expression: str, arg: object = None) -> object:
        return self.page.wait_for_function(expression, arg=arg, timeout=TIMEOUT)

    def js(self, expression: str, arg: object = None) -> object:
        return self.page.evaluate(expression, arg)

    def config(self) -> dict:
        return self.js("window.gandyn.state.config")

    def trace(self, div: str, index: int) -> dict:
        return self.js(
            # the 1D and 2D views' layers (painted: div.layers), else Plotly's traces
            "([id, i]) => { const d = document.getElementById(id), t = (d.layers || d.data)[i];"
            " return {x: Array.from(t.x || []), y: Array.from(t.y || []),"
            " n: (t.x || []).length}; }",
            [div, index],
        )

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the page may already be gone
            self.js("window.gandyn && window.gandyn.session && window.gandyn.session.end()")
        self.page.close()


@contextlib.contextmanager
def page_in(chromium: object, base_url: str, size: tuple[int, int] = (1280, 800)) -> Iterator[Page]:
    """A Page of its own browser context at ``size``, closed afterwards (a fixture's body)."""
    context = chromium.new_context(viewport={"width": size[0], "height": size[1]})
    p = Page(context, base_url)
    try:
        yield p
    finally:
        p.close()
        context.close()


@pytest.fixture
def page(browser: object, base_url: str) -> Iterator[Page]:
    p = Page(browser, base_url)
    yield p
    p.close()


def settled(p: Page, **config: object) -> None:
    """Wait until the server's config (as the page knows it) has these top-level values."""
    p.wait(
        "(want) => { const c = window.gandyn.state.config; return c && Object.entries(want)"
        ".every(([k, v]) => JSON.stringify(c[k]) === JSON.stringify(v)); }",
        config,
    )


# ----- tests ---------------------------------------------------------------------------------
def test_loads_without_console_errors_and_shows_the_2d_view(page: Page) -> None:
    page.open({"dataset": "ring8", **SMALL})
    settled(page, dataset="ring8")
    page.wait("window.gandyn.kind === '2d' && window.gandyn.latest.kind === '2d'")
    page.wait("document.getElementById('view2d').layers[0].meta.surface === true")
    # the D surface is an image under the axes, with a colour bar; samples and arrows are layers
    fake = page.trace("view2d", 5)
    real = page.trace("view2d", 7)
    arrows = page.trace("view2d", 6)
    assert fake["n"] == real["n"] == 256
    assert arrows["n"] > 0 and arrows["n"] % 7 == 0  # shaft + two head strokes per arrow
    # the colour bar: HTML beside the plot live, a Plotly colour bar in exported images
    assert page.js("document.querySelectorAll('.ov2d .cbar-ticks span').length") >= 3
    assert page.js("window.gandyn.views['2d'].exportFigure().data[0].marker.showscale") is True
    page.page.keyboard.press("Space")
    page.wait("window.gandyn.latest.iteration > 30")
    page.page.keyboard.press("Space")
    page.wait("!window.gandyn.playing")
    page.shot("view-2d")
    assert page.errors == []


def test_play_moves_the_counter_and_the_plots(page: Page) -> None:
    page.open({"dataset": "ring8", **SMALL})
    settled(page, dataset="ring8")
    page.wait("window.gandyn.latest.iteration === 0")
    before = page.trace("view2d", 5)
    rendered = page.js("window.gandyn.stats.framesRendered")
    page.page.click("#btn-play")
    page.wait("parseInt(document.getElementById('iteration').textContent.replace(/,/g, '')) >= 20")
    page.wait("(n) => window.gandyn.stats.framesRendered > n + 3", rendered)
    after = page.trace("view2d", 5)
    assert after["x"] != before["x"] and after["y"] != before["y"]
    assert page.js("window.gandyn.history.rows.length") > 1
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")
    assert page.errors == []


def test_switching_the_loss_changes_the_server_config(page: Page) -> None:
    page.open({"dataset": "ring8", "loss": "wgan", **SMALL})
    settled(page, loss="wgan")
    page.page.click("#btn-play")
    page.wait("window.gandyn.latest.iteration > 10")
    v0 = page.js("window.gandyn.latest.version")
    page.page.select_option("select[data-path='loss']", "hinge")
    # the next frames carry the new config version, and the ack's config has the new loss
    page.wait("(v) => window.gandyn.latest.version > v", v0)
    assert page.config()["loss"] == "hinge"
    page.wait("location.search.includes('loss=hinge')")
    # the change is a labelled vertical line on every metrics chart
    page.wait("window.gandyn.history.marks.length > 0")
    page.wait(f"{METRICS_FIG}.layout.shapes.length >= 6")
    label = page.js("window.gandyn.history.marks[0].label")
    assert "hinge" in label
    page.page.click("#btn-play")
    assert page.errors == []


def test_an_invalid_value_shows_an_error_next_to_its_control(page: Page) -> None:
    page.open({"dataset": "ring8", **SMALL})
    box = page.page.locator(".ctl[data-path='batch_size'] input[type=number]")
    box.fill("100000")
    box.press("Enter")
    error = page.page.locator(".ctl[data-path='batch_size'] .error")
    sync_api.expect(error).to_contain_text("Batch size", timeout=TIMEOUT)
    text = error.inner_text()
    assert "at most" in text, text
    assert page.config()["batch_size"] == 64  # the run kept its value
    # a learning rate typed as a negative number: the error sits by that control
    lr = page.page.locator(".ctl[data-path='opt_d.lr'] input[type=number]")
    lr.fill("-1")
    lr.press("Enter")
    sync_api.expect(page.page.locator(".ctl[data-path='opt_d.lr'] .error")).to_contain_text(
        "Learning rate", timeout=TIMEOUT
    )


def test_the_url_round_trip_reproduces_the_config(browser: object, base_url: str) -> None:
    query = {
        "dataset": "grid25",
        "loss": "hinge",
        "reg": "r1:2",
        "opt_d.lr": "0.0002",
        "opt_g.name": "rmsprop",
        "seed": "7",
        "d_steps": "3",
        "view": "contours",
        **SMALL,
    }
    first = Page(browser, base_url).open(query)
    try:
        settled(first, dataset="grid25", loss="hinge", seed=7, d_steps=3)
        cfg = first.config()
        [reg] = cfg["regularizers"]
        assert reg["kind"] == "r1" and reg["weight"] == pytest.approx(2.0)
        assert cfg["opt_d"]["lr"] == pytest.approx(2e-4) and cfg["opt_g"]["name"] == "rmsprop"
        # a live change lands in the address too, and "copy link" gives the whole state
        first.page.select_option("select[data-path='update_scheme']", "simultaneous")
        settled(first, update_scheme="simultaneous")
        first.page.click("#btn-link")
        first.wait("!!window.gandyn.lastLink")
        link = first.js("window.gandyn.lastLink")
        assert "update_scheme=simultaneous" in link and "view=contours" in link
        cfg = first.config()
    finally:
        first.close()
    second = Page(browser, base_url)
    try:
        second.page.goto(link)
        second.wait(READY)
        settled(second, update_scheme="simultaneous", dataset="grid25")
        assert second.config() == cfg
        assert second.js("document.getElementById('opt-contours').checked") is True
        assert second.errors == []
    finally:
        second.close()


def test_the_1d_view_renders_densities_d_and_arrows(page: Page) -> None:
    page.open({"dataset": "separated1d", "loss": "minimax", "reg": "none", **SMALL})
    page.wait("window.gandyn.kind === '1d'")
    page.page.click("#btn-play")
    page.wait("window.gandyn.latest.iteration > 20")
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")
    page.wait("document.getElementById('view1d').layers[4].x.length > 0")
    n = page.js("window.gandyn.latest.xs.length")
    d = page.trace("view1d", 4)  # D(x)
    real = page.trace("view1d", 0)  # real density
    fake = page.trace("view1d", 1)  # fake density
    optimal = page.trace("view1d", 3)  # p_r / (p_r + p_g), dashed
    assert d["n"] == real["n"] == fake["n"] == n >= 32
    assert all(0.0 <= y <= 1.0 for y in d["y"])  # minimax shows a probability
    assert max(real["y"]) > 0.5 and min(real["y"]) >= 0  # N(4, 0.25) peaks near 1.6
    assert optimal["n"] == n
    assert page.js("document.getElementById('view1d').layers[3].line.dash") == "dash"
    assert page.trace("view1d", 7)["n"] > 0  # arrows at the fakes
    page.shot("view-1d")
    assert page.errors == []


def test_the_dirac_view_renders_field_trajectory_and_line(page: Page) -> None:
    sgd = {"opt_d.name": "sgd", "opt_g.name": "sgd", "opt_d.lr": "0.2", "opt_g.lr": "0.2"}
    page.open(
        {
            "dataset": "dirac",
            "loss": "minimax",
            "reg": "none",
            "d_steps": "1",
            "update_scheme": "simultaneous",
            **sgd,
        }
    )
    page.wait("window.gandyn.kind === 'dirac'")
    page.page.click("#btn-play")
    page.wait("window.gandyn.latest.iteration > 40")
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")
    page.wait("document.getElementById('viewDirac').data[1].x.length > 20")
    field = page.trace("viewDirac", 0)
    traj = page.trace("viewDirac", 1)
    now = page.trace("viewDirac", 4)
    line = page.trace("viewDirac", 5)
    latest = page.js("({theta: window.gandyn.latest.theta, psi: window.gandyn.latest.psi})")
    assert field["n"] > 100
    assert (traj["x"][0], traj["y"][0]) == (
        pytest.approx(1.0, abs=1e-3),
        pytest.approx(1.0, abs=1e-3),
    )
    assert (now["x"][0], now["y"][0]) == (
        pytest.approx(latest["theta"]),
        pytest.approx(latest["psi"]),
    )
    # D(x) = psi x through the origin with slope psi
    slope = (line["y"][1] - line["y"][0]) / (line["x"][1] - line["x"][0])
    assert slope == pytest.approx(latest["psi"], rel=1e-6)
    title = page.js("document.getElementById('viewDirac').layout.annotations[0].text")
    assert "eigenvalues" in title
    page.shot("view-dirac")
    assert page.errors == []


def test_lecture_mode_and_hidden_controls(page: Page) -> None:
    page.open({"dataset": "ring8", "lecture": "1", "hide": "optimizer,seed,metrics", **SMALL})
    assert page.js("document.body.classList.contains('lecture')")
    assert page.page.locator(".group[data-names~='optimizer']").is_hidden()
    assert page.page.locator(".group[data-names~='seed']").is_hidden()
    assert page.page.locator("select[data-path='loss']").is_visible()
    page.page.click("#btn-play")
    page.wait("window.gandyn.latest.iteration > 30")
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")
    size = page.js("document.getElementById('view2d').layers[5].marker.size")
    assert size >= 10  # thick markers
    assert page.js("window.gandyn.stats.metricsRenders") == 0  # hidden charts cost nothing
    page.shot("view-lecture")
    # ?show= keeps one knob only
    page.open({"dataset": "ring8", "show": "loss", **SMALL})
    assert page.page.locator("select[data-path='loss']").is_visible()
    assert page.page.locator("select[data-path='dataset']").is_hidden()
    assert page.page.locator(".group[data-names~='regularizers']").is_hidden()
    assert page.errors == []


def test_export_buttons_produce_files(page: Page, tmp_path: Path) -> None:
    page.open({"dataset": "ring8", **SMALL})
    page.page.keyboard.press("ArrowRight")
    page.wait("window.gandyn.latest.iteration >= 1")
    page.wait("window.gandyn.history.rows.length >= 1")
    got = {}
    for ext in ["png", "svg", "csv", "json"]:
        button = f"#export-{ext}"
        page.page.click("#btn-export")
        with page.page.expect_download(timeout=TIMEOUT) as info:
            page.page.click(button)
        download = info.value
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        assert path.suffix == f".{ext}", path
        got[ext] = path.read_bytes()
    assert got["png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in got["svg"][:2000]
    header = got["csv"].decode().splitlines()[0].split(",")
    assert header[0] == "iteration" and "d_loss" in header
    data = json.loads(got["json"])
    assert data["metrics"] and data["config"]["dataset"] == "ring8"
    # the lane set's replay (docs/protocol.md §11): one lane, at the iteration of the export
    assert data["replay"]["version"] == 1 and len(data["replay"]["lanes"]) == 1
    assert data["replay"]["lanes"][0]["iterations"] >= 1
    assert page.errors == []


def test_draw_your_own_points_then_train(page: Page) -> None:
    page.open({"dataset": "ring8", **SMALL})
    page.page.select_option("select[data-path='dataset']", "points")
    page.wait("!document.getElementById('draw-hint').hidden")
    box = page.page.locator("#view2d .nsewdrag").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    mouse = page.page.mouse
    for dx, dy in [(-0.3, -0.3), (0.3, -0.3), (0.0, 0.3)]:
        mouse.click(cx + dx * box["width"], cy + dy * box["height"])
    # a stroke: drag across the plot
    mouse.move(cx - 0.3 * box["width"], cy + 0.1 * box["height"])
    mouse.down()
    for i in range(10):
        mouse.move(cx - 0.3 * box["width"] + i * 0.06 * box["width"], cy + 0.1 * box["height"])
    mouse.up()
    page.wait("(window.gandyn.state.config.target.points || []).length >= 8")
    assert page.config()["dataset"] == "points"
    pts = page.config()["target"]["points"]
    assert pts[0][0] < 0 < pts[0][1]  # upper-left click: x < 0, y > 0
    page.page.click("#btn-play")
    page.wait("window.gandyn.latest.iteration > 5")
    page.page.click("#btn-play")
    page.wait("location.search.includes('pts=')")
    assert page.errors == []


def test_keyboard_help_and_reconnect(page: Page) -> None:
    page.open({"dataset": "ring8", **SMALL})
    page.page.keyboard.press("?")
    assert page.page.locator("#help").is_visible()
    page.page.keyboard.press("Escape")
    assert page.page.locator("#help").is_hidden()
    page.page.keyboard.press("ArrowRight")
    page.wait("window.gandyn.latest.iteration === 1")
    session = page.js("window.gandyn.session.sessionId")
    # the connection drops: the page says so, reconnects and resumes the same session
    page.js("window.gandyn.session.dropForTest()")
    page.wait("window.gandyn.status !== 'open'")
    page.wait("window.gandyn.status === 'open'")
    assert page.js("window.gandyn.session.sessionId") == session
    page.page.keyboard.press("ArrowRight")
    page.wait("window.gandyn.latest.iteration === 2")
    # one network at a time: the counter says which one moved
    page.page.click("#btn-step-d")
    page.wait("window.gandyn.latest.part === 'd'")
    sync_api.expect(page.page.locator("#part")).to_have_text(
        "D update only: iteration unchanged", timeout=TIMEOUT
    )
    page.page.click("#btn-step-g")
    page.wait("window.gandyn.latest.part === 'g'")
    sync_api.expect(page.page.locator("#part")).to_have_text(
        "G update only: iteration unchanged", timeout=TIMEOUT
    )
    page.page.keyboard.press("r")
    page.wait("window.gandyn.latest.iteration === 0")
    assert page.errors == []


PLUGIN = '''
from gan_core import register_loss, register_regularizer
import torch.nn.functional as F


@register_loss("softhinge", shows_probability=False)
class SoftHinge:
    """A smooth hinge (a plug-in for the page test).

    L_D = E[softplus(1 - D(x))] + E[softplus(1 + D(G(z)))];  L_G = -E[D(G(z))]
    """

    def d_loss(real, fake):
        return F.softplus(1 - real).mean() + F.softplus(1 + fake).mean()

    def g_loss(real, fake):
        return -fake.mean()


@register_regularizer("tiny_l2", weight=0.01, weight_range=(0.0, 1.0), weight_name="beta")
class TinyL2:
    """Squared scores on real data (a plug-in for the page test).

    beta * E[D(x)^2]
    """

    def penalty(d, real, fake, s, rng):
        return s.weight * d(real).pow(2).mean()
'''


def test_a_plugin_loss_and_regularizer_appear_without_touching_the_page(
    browser: object, server_factory: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("plugins") / "softhinge.py"
    path.write_text(PLUGIN)
    url = server_factory(plugin=[str(path)])
    p = Page(browser, url).open({"dataset": "ring8", **SMALL})
    try:
        options = p.page.locator("select[data-path='loss'] option").evaluate_all(
            "os => os.map(o => o.value)"
        )
        assert "softhinge" in options
        p.page.select_option("select[data-path='loss']", "softhinge")
        settled(p, loss="softhinge")
        assert "smooth hinge" in p.page.locator(".group[data-names~='loss']").inner_text()
        # the plug-in regularizer: a toggle with its own strength name and formula
        row = p.page.locator(".reg[data-path='regularizers.tiny_l2']")
        row.locator("input[type=checkbox]").check()
        p.wait("window.gandyn.state.config.regularizers.some(r => r.kind === 'tiny_l2')")
        sync_api.expect(row).to_contain_text("beta * E[D(x)^2]", timeout=TIMEOUT)
        sync_api.expect(row).to_contain_text("strength β", timeout=TIMEOUT)
        p.page.keyboard.press("ArrowRight")
        p.wait("'penalty.tiny_l2' in window.gandyn.latest.metrics")
        assert p.errors == []
    finally:
        p.close()


def test_a_diverged_run_says_what_diverged_and_offers_reset(page: Page) -> None:
    wild = {"opt_d.name": "sgd", "opt_d.lr": "10", "opt_g.name": "sgd", "opt_g.lr": "10"}
    page.open({"dataset": "ring8", "loss": "wgan", "reg": "none", **wild, **SMALL})
    page.page.click("#btn-play")
    banner = page.page.locator("#halt")
    sync_api.expect(banner).to_be_visible(timeout=TIMEOUT)
    assert "diverged" in banner.inner_text().lower()
    assert not page.js("window.gandyn.playing")
    page.page.click("#halt-reset")
    sync_api.expect(banner).to_be_hidden(timeout=TIMEOUT)
    page.wait("window.gandyn.latest.iteration === 0 && !window.gandyn.latest.halt")
    assert page.errors == []


# ----- the labels say what is so (issue 14) ----------------------------------------------------
def test_the_arrow_label_is_the_median_push_of_the_fakes_shown(page: Page) -> None:
    """saturated_discriminator: the pushes are about 3e-7 (median); the label said 0.02, the
    arrows' scale floor."""
    page.open("preset=saturated_discriminator")
    page.wait("window.gandyn.latest.kind === '1d' && window.gandyn.latest.version === 0")
    note = "document.querySelector('#view1d .ov-note').innerHTML"  # the arrows' key, above the plot
    page.wait(f"{note}.includes('median')")
    shown = float(page.js(note).split("≈")[1].split("<")[0])
    pushes = page.js("Array.from(window.gandyn.latest.fake_grad, Math.abs).sort((a, b) => a - b)")
    median = pushes[len(pushes) // 2]
    assert median < 1e-4  # 3e-7
    assert median / 3 < shown < median * 3  # the median of the drawn subset
    page.shot("label-median-push")
    assert page.errors == []


def test_the_counter_badge_and_the_reset_notice_say_what_is_so(page: Page) -> None:
    page.open({"dataset": "ring8", **SMALL})
    part = page.page.locator("#part")
    page.page.click("#btn-step-d")
    page.wait("window.gandyn.latest.part === 'd'")
    sync_api.expect(part).to_have_text("D update only: iteration unchanged", timeout=TIMEOUT)
    assert page.page.locator("#iteration").inner_text() == "0"
    page.page.click("#btn-step")  # a full iteration: counted, and no badge
    page.wait("window.gandyn.latest.part === 'both' && window.gandyn.latest.iteration === 1")
    sync_api.expect(part).to_be_hidden(timeout=TIMEOUT)
    assert page.page.locator("#iteration").inner_text() == "1"
    page.shot("label-after-full-step")
    # a reset-only change: the notice says it applies on reset, and goes once reset
    seed = page.page.locator("input[type=number][data-path='seed']")
    seed.fill("5")
    seed.press("Enter")
    notice = page.page.locator("#notice")
    sync_api.expect(notice).to_contain_text("apply on reset", timeout=TIMEOUT)
    page.page.click("#btn-reset")
    settled(page, seed=5)
    sync_api.expect(notice).to_be_hidden(timeout=TIMEOUT)
    page.shot("label-after-reset")
    page.page.click("#btn-link")
    page.wait("!!window.gandyn.lastLink")
    toast = page.page.locator("#toast").inner_text()
    assert "reproduces" not in toast and "changes made during this run" in toast
    assert page.errors == []


def test_the_averaged_generator_is_drawn_beside_the_raw_one(page: Page) -> None:
    """g_ema > 0: the frame's fake_ema (the same latents through G's moving average) is a
    trace of its own, in 2D (open circles) and in 1D (open triangles), named in the legend."""
    for query, div, index, dim in [
        ({"g_ema": "0.99", **SMALL}, "view2d", 13, 2),
        ({"dataset": "separated1d", "g_ema": "0.99", **SMALL}, "view1d", 12, 1),
    ]:
        page.open(query)
        page.wait("window.gandyn.latest && window.gandyn.latest.fake_ema")
        want = page.js("window.gandyn.latest.fake_ema.length") // dim
        shown = f"((d) => d.layers || d.data)(document.getElementById('{div}'))[{index}]"
        page.wait(f"{shown}.x.length === {want}")
        ema = page.trace(div, index)
        assert ema["n"] == want > 0
        assert page.js(f"{shown}.visible") is True
        assert "averaged G (EMA)" in page.js("document.getElementById('legend').textContent")
    assert page.errors == []
