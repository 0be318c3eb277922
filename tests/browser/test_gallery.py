"""The lecture gallery in a real headless Chromium, against the real server (issue 5).

Three presets (a 1D, a 2D and the Dirac-GAN lecture) are opened twice: by clicking their
card in the gallery, and by the address a lecturer puts on a slide
(``?preset=NAME&lecture=1``). Each time the note beside the plot must be the preset's note
from ``GET /api/presets/NAME`` and the plot must hold the preset's data. A "try next" button
must open a lane on the server, and a step while paused must leave the fakes' previous
positions (or D's previous curve) faded on the plot. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from test_page import TIMEOUT, Page, sync_api

pytestmark = pytest.mark.browser

# the lectures of issue 5 (server/presets.py); before they exist, any preset of that kind
WANTED = {"1d": "saturated_discriminator", "2d": "mode_collapse_ring", "dirac": "dirac_gan"}
PLOT = {"1d": "view1d", "2d": "view2d", "dirac": "viewDirac"}
# a trace of each view that must hold data: D(x), the fake samples, the (theta, psi) field
FILLED = {"1d": 4, "2d": 5, "dirac": 0}


def kind_of(dataset: str) -> str:
    return "dirac" if dataset == "dirac" else "1d" if dataset.endswith("1d") else "2d"


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> str:
    import os

    url = os.environ.get("GANDYN_TEST_URL")
    return url.rstrip("/") if url else request.getfixturevalue("live_server")


@pytest.fixture(scope="module")
def presets(base_url: str) -> dict[str, dict]:
    """kind -> the detail of the preset the tests open for it."""
    names = [p["name"] for p in httpx.get(f"{base_url}/api/presets", timeout=10).json()]
    details = {n: httpx.get(f"{base_url}/api/presets/{n}", timeout=10).json() for n in names}
    chosen = {}
    for kind, wanted in WANTED.items():
        of_kind = [
            n for n in names if kind_of(details[n]["config"].get("dataset", "ring8")) == kind
        ]
        name = wanted if wanted in details else (of_kind[0] if of_kind else None)
        if name is None:
            pytest.skip(f"the server has no {kind} preset")
        chosen[kind] = details[name]
    return chosen


@pytest.fixture(scope="module")
def context(chromium: object) -> Iterator[object]:
    """One context (Plotly fetched once) at a projector's 1280 x 720."""
    c = chromium.new_context(viewport={"width": 1280, "height": 720})
    yield c
    c.close()


@pytest.fixture
def page(context: object, base_url: str) -> Iterator[Page]:
    p = Page(context, base_url)
    yield p
    p.close()


def words(text: str) -> str:
    return " ".join(text.split())


def shows_preset(p: Page, detail: dict) -> None:
    """The run, the note and the plot are the preset's."""
    name, kind = detail["name"], kind_of(detail["config"]["dataset"])
    p.wait("(n) => window.gandyn.state.preset === n && window.gandyn.presetInfo?.name === n", name)
    p.wait("(k) => window.gandyn.kind === k && window.gandyn.latest?.kind === k", kind)
    p.wait("(n) => window.gandyn.lanes.length === n", 1 + len(detail.get("lanes", [])))
    p.wait("(n) => new URLSearchParams(location.search).get('preset') === n", name)
    assert p.config()["dataset"] == detail["config"]["dataset"]
    assert p.config()["loss"] == detail["config"]["loss"]
    note = p.page.locator("#preset-note")
    sync_api.expect(note).to_be_visible(timeout=TIMEOUT)
    assert words(note.inner_text()) == words(detail["note"])
    assert words(p.page.locator("#preset-title").inner_text()) == words(detail["title"])
    labels = [t["label"] for t in detail.get("try_next", [])]
    buttons = p.page.locator("#preset-try button.try")
    assert buttons.count() == len(labels)
    for i, label in enumerate(labels):
        assert label in buttons.nth(i).inner_text()
    # the plot holds the preset's data (not just an element); Dirac-GAN lanes share one plane
    div, trace = PLOT[kind], FILLED[kind]
    if kind == "dirac" and detail.get("lanes"):
        p.wait("document.getElementById('viewOverlayDirac').data?.length > 0")
        drawn = p.js("document.getElementById('viewOverlayDirac').data.filter((t) => t.meta)")
        assert len(drawn) == 1 + len(detail["lanes"])
        return
    # the newest frame drawn (the plot may still hold an earlier run's layers before that)
    p.wait("window.gandyn.lanes.every((l) => l.latest && l.rendered === l.latest)")
    p.wait(
        "([d, i]) => { const v = document.getElementById(d), t = v.layers || v.data;"
        " return t && t[i] && t[i].x.length > 0; }",
        [div, trace],
    )
    # drawn against the frame drawn, read in one evaluation: a newer frame (the preset's view
    # settings applied a frame later) may arrive between two reads
    if kind == "2d":
        p.wait("document.getElementById('view2d').layers[0].meta.surface")  # D's surface
        drawn, sent = p.js(
            "[document.getElementById('view2d').layers[5].x.length,"
            " window.gandyn.lanes[0].rendered.fake.length / 2]"
        )
        assert drawn == sent
    elif kind == "1d":
        drawn, sent = p.js(
            "[document.getElementById('view1d').layers[4].x.length,"
            " window.gandyn.lanes[0].rendered.xs.length]"
        )
        assert drawn == sent
    else:
        assert p.trace("viewDirac", 0)["n"] > 100
        drawn, sent = p.js(
            "[document.getElementById('viewDirac').data[4].x[0],"
            " window.gandyn.lanes[0].rendered.theta]"
        )
        assert drawn == pytest.approx(sent)


def quiet(p: Page, detail: dict) -> None:
    """Every command answered, and the newest frame already drawn with the preset's view."""
    p.wait("window.gandyn.session.waiting.size === 0")
    p.wait(
        """(v) => { const f = window.gandyn.latest, s = f.shapes || {};
        const dims = f.kind === '1d' ? 1 : 2;
        return (!v.samples || f.fake.length === v.samples * dims)
          && (!v.line || !f.xs || f.xs.length === v.line)
          && (!v.grid || !s.d_grid || s.d_grid[0] === v.grid)
          && (!v.dirac_grid || !s.dirac_field || s.dirac_field[0] === v.dirac_grid)
          && (!v.field || !!s.field); }""",
        detail.get("view", {}),
    )


# ----- tests ---------------------------------------------------------------------------------
def test_the_picker_lists_every_preset_and_loads_the_chosen_one(
    page: Page, base_url: str, presets: dict[str, dict]
) -> None:
    page.open({"dataset": "ring8", "g_hidden": "32,32", "d_hidden": "32,32"})
    every = httpx.get(f"{base_url}/api/presets", timeout=10).json()
    cards = page.page.locator("#gallery .gcard")
    sync_api.expect(cards).to_have_count(len(every), timeout=TIMEOUT)
    assert [cards.nth(i).get_attribute("data-preset") for i in range(len(every))] == [
        p["name"] for p in every
    ]
    for i, p in enumerate(every):
        assert words(cards.nth(i).locator(".gcard-title").inner_text()) == words(p["title"])
    # pictures: only those listed in thumbs/index.json, and none of them broken
    page.wait("[...document.querySelectorAll('.gcard img')].every(i => i.complete)")
    assert page.js(
        "[...document.querySelectorAll('.gcard img')].every(i => i.naturalWidth > 0 || i.hidden)"
    )
    for kind in ("1d", "2d", "dirac"):
        detail = presets[kind]
        v0 = page.js("window.gandyn.version")
        page.page.click(f".gcard[data-preset='{detail['name']}']")
        page.wait(
            "(v) => window.gandyn.latest?.version > v && window.gandyn.latest.iteration >= 0", v0
        )
        shows_preset(page, detail)
        assert page.page.locator(".gcard.current").get_attribute("data-preset") == detail["name"]
        # the address names the preset and nothing else of the config
        page.wait("location.search.startsWith('?preset=')")
        assert "dataset=" not in page.js("location.search")
    page.shot("gallery")
    assert page.errors == []


@pytest.mark.parametrize("kind", ["1d", "2d", "dirac"])
def test_a_lecture_url_opens_straight_into_the_preset(
    page: Page, presets: dict[str, dict], kind: str
) -> None:
    detail = presets[kind]
    page.open({"preset": detail["name"], "lecture": "1"})
    shows_preset(page, detail)
    assert page.js("document.body.classList.contains('lecture')")
    # the gallery is folded in lecture mode, and a card click away
    assert page.page.locator("#gallery-toggle").is_visible()
    assert page.page.locator("#gallery-grid").is_hidden()
    # on a 1280 x 720 projector the plot takes the room: settings folded, large type; the
    # plot and the charts the note talks about both inside the window (test_page_layout)
    assert page.page.locator("#controls").is_hidden()
    plot = f"#{PLOT[kind]}" if kind != "dirac" or not detail.get("lanes") else "#viewOverlayDirac"
    page.wait("window.gandyn.fit?.charts !== 'below' && window.gandyn.fit.area >= 130")
    box = page.page.locator(plot).bounding_box()
    assert box["y"] + box["height"] <= 720 and box["height"] >= 200, box
    if detail["charts"]:
        charts = page.page.locator("#metrics").bounding_box()
        assert charts["y"] + charts["height"] <= 720, charts
    assert (
        page.js("parseFloat(getComputedStyle(document.getElementById('preset-note')).fontSize)")
        >= 18
    )
    page.shot(f"lecture-1280-{detail['name']}")
    assert page.errors == []


def test_the_gallery_can_be_hidden_and_a_slide_url_is_legible_at_1920(
    chromium: object, base_url: str, presets: dict[str, dict]
) -> None:
    detail = presets["2d"]
    context = chromium.new_context(viewport={"width": 1920, "height": 1080})
    try:
        p = Page(context, base_url).open(
            {"preset": detail["name"], "lecture": "1", "hide": "gallery"}
        )
        shows_preset(p, detail)
        assert p.page.locator("#gallery-slot").is_hidden()
        assert p.page.locator("#preset-note").is_visible()
        assert p.page.locator("#controls").is_visible()  # room enough at 1920 for the settings
        box = p.page.locator("#view2d").bounding_box()
        # two lanes side by side, or one plot
        side_by_side = len(detail.get("lanes", [])) == 1
        assert box["height"] >= (460 if side_by_side else 800), box
        p.page.click("#btn-play")
        p.wait("window.gandyn.latest.iteration > 100")
        p.page.click("#btn-play")
        p.wait("!window.gandyn.playing")
        p.shot(f"lecture-1920-{detail['name']}")
        assert p.errors == []
        p.close()
    finally:
        context.close()


def test_a_try_next_button_opens_a_lane_on_the_server(page: Page, presets: dict[str, dict]) -> None:
    detail = presets["1d"]
    items = detail["try_next"]
    index = next(i for i, t in enumerate(items) if "loss" in (t.get("patch") or {}))
    new_loss = items[index]["patch"]["loss"]
    page.open({"preset": detail["name"]})
    shows_preset(page, detail)
    n = page.js("window.gandyn.lanes.length")
    first = page.js("window.gandyn.lanes[0].config.loss")
    page.page.locator("#preset-try button.try").nth(index).click()
    # a new lane (from the start or a fork, as the item says), selected; the others unchanged
    page.wait("(n) => window.gandyn.lanes.length === n + 1", n)
    page.wait("window.gandyn.selected === window.gandyn.lanes.at(-1).id")
    assert page.js("window.gandyn.lanes.at(-1).config.loss") == new_loss
    assert page.js("window.gandyn.lanes[0].config.loss") == first
    sync_api.expect(page.page.locator("select[data-path='loss']")).to_have_value(new_loss)
    sync_api.expect(page.page.locator("#preset-try button.try").nth(index)).to_have_class(
        "try tried", timeout=TIMEOUT
    )
    assert page.errors == []


def test_a_step_while_paused_leaves_the_previous_positions_faded(
    page: Page, presets: dict[str, dict]
) -> None:
    # 2D: a full step moves the fakes; their old places stay, faded, linked to the new ones
    detail = presets["2d"]
    page.open({"preset": detail["name"]})
    shows_preset(page, detail)
    quiet(page, detail)
    before = page.js("Array.from(window.gandyn.latest.fake)")
    it0 = page.js("window.gandyn.latest.iteration")
    page.page.click("#btn-step")
    page.wait(
        "(i) => window.gandyn.latest.iteration === i + 1 && !!window.gandyn.latest.ghost", it0
    )
    page.wait("document.getElementById('view2d').layers[10].x.length > 0")
    ghost = page.trace("view2d", 10)
    assert ghost["n"] == len(before) // 2
    assert ghost["x"] == pytest.approx(before[0::2], abs=1e-6)
    assert ghost["y"] == pytest.approx(before[1::2], abs=1e-6)
    assert page.trace("view2d", 9)["n"] == 3 * ghost["n"]  # a thin line per sample
    sync_api.expect(page.page.locator(".lane-panel[data-pos='0'] .ov-ghost")).to_contain_text(
        "before this step"
    )
    page.shot("step-faded-2d")
    # while playing there is no faded layer (trails are for that)
    page.page.click("#btn-play")
    page.wait("window.gandyn.latest.playing && window.gandyn.latest.iteration > 3")
    page.wait("document.getElementById('view2d').layers[10].x.length === 0")
    page.page.click("#btn-play")
    page.wait("!window.gandyn.playing")

    # 1D: one D step reshapes D; its previous curve stays, dotted and faded
    detail = presets["1d"]
    page.page.click(f".gcard[data-preset='{detail['name']}']")
    shows_preset(page, detail)
    quiet(page, detail)
    d_before = page.js("Array.from(window.gandyn.latest.d_line)")
    page.page.click("#btn-step-d")
    page.wait("window.gandyn.latest.part === 'd' && !!window.gandyn.latest.ghost")
    page.wait("document.getElementById('view1d').layers[9].x.length > 0")
    assert page.trace("view1d", 9)["y"] == pytest.approx(d_before, abs=1e-6)
    page.shot("step-faded-1d")

    # Dirac-GAN: the point (theta, psi) before the step, hollow
    detail = presets["dirac"]
    page.page.click(f".gcard[data-preset='{detail['name']}']")
    shows_preset(page, detail)
    quiet(page, detail)
    if detail.get("lanes"):  # the lanes side by side: lane 1's own panel
        page.page.uncheck("#lane-overlay")
        page.wait("!document.getElementById('viewDirac').hidden")
    theta, psi = page.js("[window.gandyn.latest.theta, window.gandyn.latest.psi]")
    page.page.keyboard.press("ArrowRight")
    page.wait("!!window.gandyn.latest.ghost")
    page.wait("document.getElementById('viewDirac').data[9].x.length === 1")
    old = page.trace("viewDirac", 9)
    assert (old["x"][0], old["y"][0]) == (pytest.approx(theta), pytest.approx(psi))
    page.shot("step-faded-dirac")
    assert page.errors == []
