"""The 2D view in a real headless Chromium, against the real server (issue 15): the hover
text against the frame's numbers, the layer toggles and their round trip through the URL,
the arrow cap with many samples, samples outside the plot marked at its edge, and the
coloured manifold with its key. One page for the module; screenshots in tests/artifacts/.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest
from test_page import SMALL, TIMEOUT, Page, sync_api

pytestmark = pytest.mark.browser

VIEW = "document.getElementById('view2d')"
LAYERS = f"{VIEW}.layers"
TIP = ".lane-panel[data-pos='0'] .ov-hover"
NUMBER = r"−?-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"


@pytest.fixture(scope="module")
def page(chromium: object, live_server: str) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    p = Page(context, live_server)
    p.open({"dataset": "ring8", "view": "field", **SMALL})
    p.wait("window.gandyn.latest && window.gandyn.latest.field")
    drawn(p)
    yield p
    p.close()
    context.close()


def drawn(p: Page) -> None:
    """Wait until the newest frame is the one drawn."""
    p.wait("window.gandyn.lanes[0].rendered === window.gandyn.latest")


def numbers(text: str) -> list[float]:
    return [float(t.replace("−", "-")) for t in re.findall(NUMBER, text)]


def frame(p: Page) -> dict:
    return p.js(
        "(() => { const f = window.gandyn.latest; return {extent: f.extent, display: f.display,"
        " g: f.shapes.d_grid[0], m: f.shapes.field[0], d: Array.from(f.d_grid),"
        " field: Array.from(f.field), fake: Array.from(f.fake),"
        " grad: Array.from(f.fake_grad)}; })()"
    )


def bilinear(grid: list[float], n: int, dim: int, lo: float, hi: float, x: float, y: float):
    fx, fy = (x - lo) / (hi - lo) * (n - 1), (y - lo) / (hi - lo) * (n - 1)
    j, i = min(int(fx), n - 2), min(int(fy), n - 2)
    tx, ty = fx - j, fy - i

    def at(r: int, c: int, k: int) -> float:
        return grid[(r * n + c) * dim + k]

    return [
        (1 - ty) * ((1 - tx) * at(i, j, k) + tx * at(i, j + 1, k))
        + ty * ((1 - tx) * at(i + 1, j, k) + tx * at(i + 1, j + 1, k))
        for k in range(dim)
    ]


def pixel(p: Page, x: float, y: float) -> tuple[float, float]:
    """Where data point (x, y) is on the screen: the D surface's canvas spans the plot area."""
    box = p.page.locator("#view2d canvas.d-surface").bounding_box()
    lo, hi = p.js("window.gandyn.latest.extent")
    return box["x"] + (x - lo) / (hi - lo) * box["width"], box["y"] + (hi - y) / (hi - lo) * box[
        "height"
    ]


def test_hover_on_the_surface_and_on_a_fake_says_the_frames_numbers(page: Page) -> None:
    f = frame(page)
    lo, hi = f["extent"]
    # a point of the surface away from every fake: D there and the field's push, interpolated
    fake = list(zip(f["fake"][0::2], f["fake"][1::2], strict=True))
    spot = next(
        (x, y)
        for x in [lo + (hi - lo) * k / 9 for k in range(1, 9)]
        for y in [lo + (hi - lo) * k / 9 for k in range(1, 9)]
        if all(math.hypot(x - a, y - b) > 0.08 * (hi - lo) for a, b in fake)
    )
    page.page.mouse.move(*pixel(page, *spot))
    tip = page.page.locator(TIP)
    sync_api.expect(tip).to_be_visible(timeout=TIMEOUT)
    assert tip.get_attribute("data-kind") == "surface"
    lines = tip.locator("div").all_inner_texts()
    # the pointer in data units (unrounded, on the tip), and as the text says it (3 digits)
    x, y = float(tip.get_attribute("data-x")), float(tip.get_attribute("data-y"))
    assert (x, y) == pytest.approx(spot, abs=0.02 * (hi - lo))
    assert numbers(lines[0]) == pytest.approx([x, y], rel=6e-3, abs=1e-3)
    d = bilinear(f["d"], f["g"], 1, lo, hi, x, y)[0]
    if f["display"] == "probability":  # D's logit, then the probability
        assert numbers(lines[1]) == pytest.approx([math.log(d / (1 - d)), d], rel=6e-3, abs=1e-3)
    else:
        assert numbers(lines[1])[0] == pytest.approx(d, rel=6e-3, abs=1e-3)
    u, v = bilinear(f["field"], f["m"], 2, lo, hi, x, y)
    said = numbers(lines[2])
    assert said[:3] == pytest.approx([u, v, math.hypot(u, v)], rel=6e-3, abs=1e-4)
    assert f"interpolated from the {f['m']} × {f['m']} field" in lines[2]
    page.shot("2d-hover-surface")
    # a fake sample: its own push and its norm
    i = next(k for k, (a, b) in enumerate(fake) if lo < a < hi and lo < b < hi)
    page.page.mouse.move(*pixel(page, *fake[i]))
    page.wait(f"document.querySelector(\"{TIP}\").dataset.kind === 'fake'")
    k = int(tip.get_attribute("data-index"))  # the nearest fake (another may lie as close)
    lines = tip.locator("div").all_inner_texts()
    assert lines[0].startswith(f"fake sample {k + 1} of {len(fake)}")
    gu, gv = f["grad"][2 * k], f["grad"][2 * k + 1]
    want = [gu, gv, math.hypot(gu, gv)]
    assert numbers(lines[1])[:3] == pytest.approx(want, rel=6e-3, abs=1e-4)
    page.shot("2d-hover-fake")
    page.page.mouse.move(2, 2)
    sync_api.expect(tip).to_be_hidden(timeout=TIMEOUT)
    assert page.errors == []


def test_the_layer_toggles_hide_their_layers_and_live_in_the_url(page: Page) -> None:
    for name in ["d", "real", "fake", "arrows"]:
        page.page.uncheck(f"#opt-{name}")
    # real, fake, arrows off and no D surface, once the last change is drawn
    page.wait(f"[7, 5, 6].every((i) => {LAYERS}[i].visible === false) && !{LAYERS}[0].meta.surface")
    assert page.page.locator("#view2d canvas.d-surface").is_hidden()
    assert page.page.locator(".lane-panel[data-pos='0'] .cbar").is_hidden()
    page.wait("location.search.includes('-arrows')")
    view = page.js("new URLSearchParams(location.search).get('view')").split(",")
    assert sorted(view) == ["-arrows", "-d", "-fake", "-real", "field"]
    page.shot("2d-toggles-off")
    # the address brings them back as they were
    page.open(page.js("location.search").lstrip("?"))
    assert [
        page.page.is_checked(f"#opt-{n}") for n in ["d", "real", "fake", "arrows", "field"]
    ] == [
        False,
        False,
        False,
        False,
        True,
    ]
    for name in ["d", "real", "fake", "arrows"]:
        page.page.check(f"#opt-{name}")
    page.wait(f"{LAYERS}[7].visible && {LAYERS}[5].visible && {LAYERS}[0].meta.surface")
    assert page.errors == []


def test_many_samples_draw_a_stated_share_of_the_arrows(page: Page) -> None:
    page.js("window.gandyn.session.send({type: 'view', samples: 1024})")
    page.wait("window.gandyn.latest.fake.length === 2048")
    drawn(page)
    meta = page.js(f"{LAYERS}[6].meta")
    assert meta == {"shown": 256, "of": 1024, "every": 4}
    assert page.js(f"{LAYERS}[6].x.length") == 7 * 256  # shaft and two head strokes each
    assert page.js(f"{LAYERS}[5].x.length") == 1024  # every fake is drawn
    note = page.page.locator(".lane-panel[data-pos='0'] .ov-note")
    sync_api.expect(note).to_contain_text("256 of 1,024 shown", timeout=TIMEOUT)
    page.shot("2d-many-samples")
    page.js("window.gandyn.session.send({type: 'view', samples: 256})")
    page.wait("window.gandyn.latest.fake.length === 512")
    drawn(page)
    assert page.js(f"{LAYERS}[6].meta.every") == 1
    assert "of 1,024" not in note.inner_text()
    assert page.errors == []


def test_samples_outside_the_plot_are_marked_at_its_edge(page: Page) -> None:
    # the newest frame with three fakes moved beyond the range: right, below, and both
    lo, hi = page.js("window.gandyn.latest.extent")
    page.js(
        "([lo, hi]) => { const f = window.gandyn.latest, fake = Float32Array.from(f.fake);"
        " fake[0] = hi + 1; fake[1] = 0; fake[2] = 0.5; fake[3] = lo - 3; fake[4] = hi + 5;"
        " fake[5] = hi + 1; window.gandyn.render({...f, fake, seq: f.seq + 0.5}); }",
        [lo, hi],
    )
    page.wait(f"{LAYERS}[2].meta.fake >= 3")
    edge = page.js(
        f"(() => {{ const t = {LAYERS}[2]; return {{x: t.x, y: t.y, s: t.marker.symbol,"
        " meta: t.meta}; })()"
    )
    marks = list(zip(edge["x"], edge["y"], edge["s"], strict=True))
    assert (hi, 0, "triangle-right") in marks
    assert (pytest.approx(0.5), lo, "triangle-down") in marks
    assert (hi, hi, "triangle-right") in marks  # further out in x than in y
    assert all(lo <= x <= hi and lo <= y <= hi for x, y, _ in marks)
    note = page.page.locator(".lane-panel[data-pos='0'] .ov-edge")
    sync_api.expect(note).to_contain_text(
        f"{edge['meta']['fake']} fakes outside the plot, marked at its edge", timeout=TIMEOUT
    )
    page.shot("2d-outside")
    assert page.errors == []


def test_the_manifold_colours_its_latent_grid_and_names_it(page: Page) -> None:
    page.page.check("#opt-manifold")
    page.wait("window.gandyn.latest.manifold && " + f"{LAYERS}.length > 14")
    drawn(page)
    m = page.js("window.gandyn.latest.shapes.manifold[0]")
    lines = page.js(f"{LAYERS}.slice(14).map((t) => [t.x.length, t.line.color])")
    assert len(lines) == 2 * m and all(n == m for n, _ in lines)
    colours = [c for _, c in lines]
    assert len(set(colours[:m])) == m and len(set(colours[m:])) == m  # one colour per line
    assert set(colours[:m]).isdisjoint(colours[m:])  # the two families told apart
    key = page.page.locator(".lane-panel[data-pos='0'] .ov-manifold")
    sync_api.expect(key).to_contain_text("z₁ = const", timeout=TIMEOUT)
    assert "z₂ = const −2" in key.inner_text()  # gaussian noise: the grid spans [−2, 2]
    page.shot("2d-manifold")
    page.page.uncheck("#opt-manifold")
    page.wait(f"{LAYERS}.length === 14")
    sync_api.expect(key).to_be_hidden(timeout=TIMEOUT)
    assert page.errors == []
