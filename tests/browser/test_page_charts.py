"""The metric charts and the "how to read this" layer (issue 15) in real headless Chromium.

What is checked is what the page draws, read from the Plotly figure of #metrics and from the
DOM: the charts a preset names with the others folded away (``setShown``); the marks of 20
config changes with short labels whose boxes overlap neither each other nor the plots; JS on
its own axis with the log 2 line and its label; the W1 floor as a band; "modes covered: N of
8" from the last evaluation; log axes with labelled decades only, also in lecture mode; the
how-to-read text following the loss, in the panel and in the ? help. One page for the module.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest
from test_page import (  # noqa: F401 (base_url: the fixture)
    METRICS_FIG,
    SMALL,
    Page,
    base_url,
    page_in,
)

pytestmark = pytest.mark.browser

CHARTS = ["losses", "W₁", "coverage", "‖∇ₓD‖", "penalties", "JS, KL", "Fréchet", "Parzen NLL"]
FIG = "document.getElementById('metrics')"  # the charts' box; METRICS_FIG: their figure
ROWS = "Array.from(document.querySelectorAll('#metrics .metrics-row'))"
# the boxes (px, relative to the page) of the annotations of one name, with their text
BOXES = (
    f"(name) => {ROWS}.flatMap((d) =>"
    " Array.from(d.querySelectorAll('.infolayer .annotation')).map((g) => {"
    " const a = d.layout.annotations[+g.dataset.index]; const r = g.querySelector('.bg')"
    ".getBoundingClientRect(); return {name: a.name, text: a.text, hover: a.hovertext || '',"
    " x: a.x, l: r.left, r: r.right, t: r.top, b: r.bottom}; })).filter((a) => a.name === name)"
)
# each chart's plot area in px (relative to the page), by its number (through the rows)
PLOTS = (
    f"() => {{ const out = {{}}; for (const d of {ROWS}) {{ const fl = d._fullLayout,"
    " box = d.getBoundingClientRect(), first = +d.dataset.first;"
    " for (const k of Object.keys(fl)) {"
    " const m = /^xaxis(\\d*)$/.exec(k); if (!m) continue; const x = fl[k],"
    " y = fl['yaxis' + m[1]]; out[String(first + +(m[1] || 1))] = {l: box.left + x._offset,"
    " r: box.left + x._offset + x._length, t: box.top + y._offset,"
    " b: box.top + y._offset + y._length}; } } return out; }"
)


@pytest.fixture(scope="module")
def page(chromium: object, request: pytest.FixtureRequest) -> Iterator[Page]:
    """One page for the module, at the issue's 1280 x 800 (test_page's base_url)."""
    with page_in(chromium, request.getfixturevalue("base_url")) as p:
        p.open({"dataset": "ring8", "loss": "wgan", **SMALL})
        yield p


def chart_titles(p: Page) -> list[str]:
    """The titles of the charts drawn, in order (the bold first word of each title)."""
    return p.js(
        f"{METRICS_FIG}.layout.annotations.filter((a) => a.name === 'chart-title')"
        ".map((a) => a.text.match(/<b>(.*?)<\\/b>/)[1])"
    )


def commands(p: Page, cmds: list[dict]) -> None:
    """Send commands in order, up to 30 before waiting for their acks (the server queues at
    most 32 behind a running step)."""
    p.js(
        "async (cmds) => { const S = window.gandyn.session; for (let i = 0; i < cmds.length;"
        " i += 30) await Promise.all(cmds.slice(i, i + 30).map((c) => S.send(c))); }",
        cmds,
    )


def overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]
    ]


def test_set_shown_folds_away_the_charts_not_named(page: Page) -> None:
    page.wait("document.querySelector('#metrics .metrics-row')?.layout")
    assert chart_titles(page) == CHARTS
    page.js("window.gandyn.metrics.setShown(['JS, KL', 'coverage'])")
    assert chart_titles(page) == ["coverage", "JS, KL"]  # in CHARTS' order
    axes = page.js(f"Object.keys({METRICS_FIG}.layout).filter((k) => /^xaxis\\d*$/.test(k))")
    assert sorted(axes) == ["xaxis", "xaxis2"]
    with pytest.raises(Exception, match="unknown chart"):
        page.js("window.gandyn.metrics.setShown(['nope'])")
    page.js("window.gandyn.metrics.setShown([])")
    assert page.js(f"{FIG}.hidden") is True
    page.js("window.gandyn.metrics.setShown(null)")
    assert page.js(f"{FIG}.hidden") is False
    assert chart_titles(page) == CHARTS
    assert page.errors == []


def test_a_change_is_labelled_in_words_never_in_json(page: Page) -> None:
    labels = page.js(
        "async () => { const m = await import('/changeMarks.js'); return ["
        "m.changeLabel([{field: 'loss', old: 'wgan', new: 'hinge'}]),"
        "m.changeLabel([{field: 'regularizers', old: [{kind: 'gp', weight: 0.1}],"
        " new: [{kind: 'gp', weight: 0.1}, {kind: 'r1', weight: 2}]}]),"
        "m.changeLabel([{field: 'opt_d.lr', old: 0.001, new: 0.0002}]),"
        "m.changeLabel([{field: 'regularizers', old: [{kind: 'gp', weight: 0.1}], new: []},"
        " {field: 'd_steps', old: 2, new: 5}, {field: 'loss', old: 'wgan', new: 'hinge'}]),"
        "m.changeDetails([{field: 'regularizers', old: [{kind: 'gp', weight: 0.1}],"
        " new: [{kind: 'gp', weight: 10}]}]),"
        "m.changeDetails([{field: 'target.points', old: [[0, 1]], new: [[0, 1], [1, 2]]}])]; }"
    )
    assert labels == [
        "loss → hinge",
        "+ r1",
        "lr_d 2e-4",
        "− gp and 2 more",
        ["gp: weight 0.1 → 10"],
        ["target.points: 1 points → 2 points"],
    ]


def test_how_to_read_follows_the_loss_in_the_panel_and_the_help(page: Page) -> None:
    panel = "document.getElementById('how-to-read')"
    assert page.js(f"{panel}.hidden") is True
    page.page.click("#btn-how-to-read")
    assert page.js(f"{panel}.hidden") is False
    keys = page.js(f"Array.from({panel}.querySelectorAll('[data-key]')).map((e) => e.dataset.key)")
    assert keys == ["colours", "arrows", "faded", "samples", "manifold", "field"]

    def colours() -> str:
        return page.js(f"{panel}.querySelector('[data-key=colours] dd').textContent")

    assert "raw critic score" in colours() and "halfway between D's mean scores" in colours()
    arrows = page.js(f"{panel}.querySelector('[data-key=arrows] dd').textContent")
    assert "−∂LG/∂x" in arrows and "7 % of the plot's width" in arrows
    for loss, says in [
        ("nonsaturating", "the probability D gives that x is real"),
        ("hinge", "white is D(x) = 0"),
    ]:
        commands(page, [{"type": "update", "patch": {"loss": loss}}])
        page.wait(f"(l) => {panel}.dataset.loss === l", loss)
        assert says in colours()
        # the ? help holds the same text
        help_text = page.js("document.getElementById('help-read').textContent")
        assert help_text == page.js(f"{panel}.textContent")
    page.page.click("#btn-how-to-read")
    assert page.js(f"{panel}.hidden") is True
    assert page.errors == []


def test_twenty_changes_are_short_labels_that_overlap_nothing(page: Page) -> None:
    # a fresh run: 19 changes an iteration apart, then one far from them
    commands(page, [{"type": "reset", "patch": {"loss": "wgan"}}])
    page.wait("window.gandyn.history.marks.length === 0 && window.gandyn.latest.iteration === 0")
    patches = [
        {"loss": "hinge"},
        {"opt_d": {"lr": 2e-4}},
        {"regularizers": [{"kind": "gp", "weight": 0.1}, {"kind": "r1", "weight": 2}]},
        {"d_steps": 3},
        {"loss": "wgan"},
    ]
    cmds = []
    for i in range(19):
        patch = patches[i] if i < len(patches) else {"opt_g": {"lr": round(1e-4 * (i + 1), 6)}}
        cmds += [{"type": "update", "patch": patch}, {"type": "step", "n": 1}]
    commands(page, cmds)
    # then 40 iterations on before the last change, waited for (not assumed of one step
    # command, which a busy machine may cut at its time budget), so that it is far from them
    while (it := page.js("window.gandyn.latest.iteration")) < 19 + 40:
        commands(page, [{"type": "step", "n": 19 + 40 - it}])
        page.wait(f"window.gandyn.latest.iteration > {it}")
    commands(page, [{"type": "update", "patch": {"loss": "hinge"}}, {"type": "step", "n": 5}])
    page.wait("window.gandyn.history.marks.length === 20 && window.gandyn.history.evals.length")
    # every chart has the 20 lines, and its labels account for the 20 changes
    page.wait(
        f"() => {{ const a = {METRICS_FIG}.layout.annotations"
        ".filter((x) => x.name === 'change-mark');"
        " const n = a.reduce((s, x) => s + (+(/^(\\d+) changes$/.exec(x.text) || [0, 1])[1]), 0);"
        f" return n === 20 * 8 && {METRICS_FIG}.layout.shapes.filter((s) => s.type === 'line'"
        " && /^x\\d*$/.test(s.xref)).length === 20 * 8; }"
    )
    labels = check_marks(page)["1"]  # the first chart's
    # close changes collapse into one label; the hover lists them in words
    assert labels[0]["text"].endswith(" changes")
    assert labels[0]["hover"].startswith("iteration 0: loss: wgan → hinge")
    assert any("+ r1 (weight 2)" in b["hover"] for b in labels)
    # alone, far from the others (the message: what was drawn, if not)
    marks_at = page.js("window.gandyn.history.marks.map((m) => m.iteration)")
    xrange = page.js(f"{METRICS_FIG}.layout.xaxis.range")
    assert labels[-1]["text"] == "loss → hinge", (labels, marks_at, xrange)
    assert page.errors == []


def check_marks(page: Page) -> dict[str, list[dict]]:
    """The marks' labels: short, in words, inside their chart's width, above its plot area,
    and no two overlapping. Returns them by the plot they label (its axis number), left to
    right."""
    boxes = page.js(BOXES, "change-mark")
    plots = page.js(PLOTS)
    assert boxes
    assert overlapping(boxes) == []
    by_plot: dict[str, list[dict]] = {}
    for b in boxes:
        assert not any(c in b["text"] for c in '{}[]"') and len(b["text"]) <= 28, b["text"]
        under = [
            k
            for k, p in plots.items()
            if p["l"] - 2 <= b["l"] < p["r"] and 0 <= p["t"] - b["b"] < 30 and b["r"] <= p["r"] + 2
        ]
        assert len(under) == 1, (b, plots)  # in the strip right above one plot, not on it
        by_plot.setdefault(under[0], []).append(b)
    return {k: sorted(v, key=lambda b: b["l"]) for k, v in by_plot.items()}


def test_every_chart_keeps_its_lines_when_only_some_series_change(page: Page) -> None:
    """A G-only step changes the losses (a new last batch), not the evaluations: the charts
    of evaluated metrics, drawn as data updates of their row's figure, keep their lines."""
    end = page.js("window.gandyn.latest.iteration") + 30
    commands(page, [{"type": "step", "n": 30}])
    page.wait(
        f"window.gandyn.latest.iteration === {end} && window.gandyn.history.evals.length"
        f" && window.gandyn.history.evals.at(-1).iteration === {end}"
        " && window.gandyn.session.waiting.size === 0"
    )
    commands(page, [{"type": "step", "n": 1, "part": "g"}])
    page.wait("window.gandyn.latest.part === 'g'")
    # the G step's losses drawn (a data update: the evaluations are as they were)
    page.wait(
        f"{METRICS_FIG}.data.find((t) => t.meta && t.meta.series === 'g_loss').y.at(-1)"
        " === window.gandyn.history.rows.at(-1).g_loss"
    )
    # the rows are drawn one an animation frame: wait for as many frames as there are rows
    page.js(
        "() => new Promise((done) => { let n = document.querySelectorAll('#metrics"
        " .metrics-row').length + 1; const f = () => (n-- ? requestAnimationFrame(f) : done());"
        " f(); })"
    )
    rows = page.js(
        "Array.from(document.querySelectorAll('#metrics .metrics-row')).map((d) =>"
        " [d.data.length, d.querySelectorAll('.scatterlayer .trace').length])"
    )
    assert rows and all(traces == drawn for traces, drawn in rows), rows
    assert page.errors == []


def test_js_has_its_axis_and_log_2_line_and_w1_its_floor_band(page: Page) -> None:
    page.wait("window.gandyn.history.evals.some((e) => Number.isFinite(e.modes_covered))")
    page.wait(f"{METRICS_FIG}.data.some((t) => t.meta && t.meta.band && t.y.length)")
    fig = page.js(
        f"(() => {{ const d = {METRICS_FIG}; return {{layout: JSON.parse(JSON.stringify(d.layout)),"
        " data: d.data.map((t) => ({name: t.name, meta: t.meta, yaxis: t.yaxis, fill: t.fill,"
        " y: Array.from(t.y || [])}))}; })()"
    )
    layout, data = fig["layout"], fig["data"]
    # every chart names its x axis and the unit of its y axis
    for k in range(1, 9):
        ax = "" if k == 1 else str(k)
        assert layout[f"xaxis{ax}"]["title"]["text"] == "generator iteration"
        assert layout[f"yaxis{ax}"]["title"]["text"]
    js = next(t for t in data if t["meta"] and t["meta"]["series"] == "js")
    kl = next(t for t in data if t["meta"] and t["meta"]["series"] == "kl")
    js_axis = layout["yaxis" + js["yaxis"][1:]]
    kl_axis = layout["yaxis" + kl["yaxis"][1:]]
    assert js["yaxis"] != kl["yaxis"] and kl_axis["overlaying"] == js["yaxis"]
    assert kl_axis["side"] == "right" and kl_axis["title"]["text"] == "KL (nats)"
    assert js_axis["range"] == [0, 0.88] and js_axis["title"]["text"] == "JS (nats)"
    (line,) = [s for s in layout["shapes"] if s.get("name") == "log2"]
    assert line["y0"] == line["y1"] == pytest.approx(math.log(2))
    # the label sits on the line, inside the JS plot: seen to be at 0.69
    (label,) = page.js(BOXES, "log2-label")
    plots = page.js(PLOTS)
    plot = plots[js["yaxis"][1:]]
    line_px = plot["b"] - (plot["b"] - plot["t"]) * math.log(2) / 0.88
    assert label["text"] == "log 2: no overlap"
    assert line_px - 12 < label["b"] <= line_px + 1 and label["t"] >= plot["t"] - 1
    # every KL value stays under log 2's height on its axis: the label's strip is clear
    kl_top = kl_axis["range"][1]
    assert all(v / kl_top <= math.log(2) / 0.88 + 1e-9 for v in kl["y"] if v is not None)
    # W1's floor: a filled band reaching up to the floor of the evaluations
    floors = page.js("window.gandyn.history.evals.map((e) => e.w1_floor)")
    (band,) = [t for t in data if t["meta"] and t["meta"].get("band")]
    assert band["fill"] == "toself" and max(band["y"]) == pytest.approx(max(floors))
    # coverage in words, from the last evaluation
    last = page.js(
        "[...window.gandyn.history.evals].reverse().find((e) => Number.isFinite(e.modes_covered))"
    )
    title = next(
        a["text"]
        for a in layout["annotations"]
        if a.get("name") == "chart-title" and "coverage" in a["text"]
    )
    assert (
        f'modes covered: <span style="color:#117a3a">{last["modes_covered"]} of 8</span>' in title
    )
    notes = [a["text"] for a in layout["annotations"] if a.get("name") == "chart-note"]
    assert any("within 3 std of their nearest mode" in n.replace("<br>", " ") for n in notes)
    assert page.errors == []


SUPERSCRIPTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def decade(text: str) -> int | None:
    """k for a label of 10^k ("0.01", "1000", "10⁻⁵"), else None."""
    if text.startswith("10") and len(text) > 2 and not text[2:].isdigit():
        return int(text[2:].translate(SUPERSCRIPTS))
    k = math.log10(float(text))
    return round(k) if abs(k - round(k)) < 1e-9 else None


def log_ticks(page: Page) -> list[dict]:
    """The tick labels of the log axes (W1, Frechet): texts and boxes."""
    return page.js(
        f"() => {ROWS}.flatMap((d, row) => {{ const fl = d._fullLayout; return Object.keys(fl)"
        ".filter((k) => /^yaxis\\d*$/.test(k) && fl[k].type === 'log').map((k) => {"
        " const id = fl[k]._id; return Array.from(d.querySelectorAll(`.${id}tick text`))"
        ".map((t) => { const r = t.getBoundingClientRect(); return {axis: `${row}:${id}`,"
        " text: t.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom}; }); }); })"
    )


@pytest.mark.parametrize("lecture", [False, True])
def test_log_axes_label_decades_only_without_crowding(page: Page, lecture: bool) -> None:
    if lecture:
        page.page.keyboard.press("l")
        page.wait(
            f"document.body.classList.contains('lecture') && {METRICS_FIG}.layout.font.size === 20"
        )
    axes = log_ticks(page)
    assert len(axes) == 2
    for ticks in axes:
        assert 2 <= len(ticks) <= 6, ticks
        # powers of ten only, as a person writes them
        assert all(decade(t["text"]) is not None for t in ticks), ticks
        assert overlapping(ticks) == []
        ticks.sort(key=lambda t: t["t"])
        assert all(b["t"] - a["b"] >= 4 for a, b in itertools.pairwise(ticks)), ticks
    check_marks(page)
    if lecture:
        page.page.keyboard.press("l")
        page.wait("!document.body.classList.contains('lecture')")
    assert page.errors == []
