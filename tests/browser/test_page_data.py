"""Your own data and taking the run away, in a real headless Chromium against the real server.

Uploading a CSV or JSON file of points or values as the target (a bad file's error names the
line, the points travel in the link within its limit, the server trains on them), drawing
from an empty canvas and clearing it, and recording the plots to a WebM file.
Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT = 20_000  # ms, for every wait on a condition
# slow motion (2 frames a second) while playing: the page answers clicks at once on a busy machine
QUERY = "dataset=ring8&g_hidden=32,32&d_hidden=32,32&batch_size=64&speed=motion"
READY = "window.gandyn && window.gandyn.ready && window.gandyn.stats.framesRendered > 0"
UPLOAD_ERROR = "document.querySelector('[data-error-for=\"target.upload\"]').textContent"
# the frame of the run's current config has been drawn
DRAWN = (
    "window.gandyn.latest && window.gandyn.latest.version === window.gandyn.version"
    " && window.gandyn.lanes[0].rendered === window.gandyn.latest"
)


@pytest.fixture(scope="module")
def page(chromium: object, live_server: str) -> Iterator[object]:
    """One page for the module, with its console errors collected in ``page.errors``."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(TIMEOUT)
    p.errors = []
    p.on("console", lambda m: m.type == "error" and p.errors.append(m.text))
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    ARTIFACTS.mkdir(exist_ok=True)
    p.goto(f"{live_server}/?{QUERY}")
    p.wait_for_function(READY)
    p.wait_for_function(f"window.gandyn.state.config.batch_size === 64 && {DRAWN}")  # the URL's run
    yield p
    context.close()


def upload(page: object, name: str, text: str) -> None:
    page.set_input_files(
        "#upload-file", files=[{"name": name, "mimeType": "text/plain", "buffer": text.encode()}]
    )


def bad_upload(page: object, name: str, text: str) -> str:
    """The error shown for a file that must be refused; nothing is sent to the server."""
    version = page.evaluate("window.gandyn.version")
    page.evaluate(f"{UPLOAD_ERROR.removesuffix('.textContent')}.textContent = ''")
    upload(page, name, text)
    page.wait_for_function(f"{UPLOAD_ERROR}.length > 0")
    assert page.evaluate("window.gandyn.version") == version
    return page.evaluate(UPLOAD_ERROR)


def test_a_bad_file_names_its_line_and_a_good_one_is_trained_on(page: object) -> None:
    good = [[round(0.4 * i - 1.2, 3), round(0.3 * (i % 3) - 0.3, 3)] for i in range(7)]
    bad = "\n".join(f"{x},{y}" for x, y in good[:6]) + "\nabc\n"
    assert bad_upload(page, "bad.csv", bad) == (
        "bad.csv: line 7: expected two numbers separated by a comma, got 'abc'."
    )
    page.screenshot(path=str(ARTIFACTS / "page-data-upload-error.png"))
    many = "\n".join(f"{i / 1000},0" for i in range(501))
    assert "has 501 points; a run holds at most 500 (target.points)" in bad_upload(
        page, "many.csv", many
    )
    assert "outside [-10, 10]" in bad_upload(page, "far.json", "[[0, 0], [0, 12]]")

    upload(page, "good.csv", "x,y\n" + "\n".join(f"{x},{y}" for x, y in good))
    page.wait_for_function("window.gandyn.state.config.dataset === 'points'")
    page.wait_for_function(DRAWN)
    assert page.evaluate("window.gandyn.state.config.target.points") == good
    # the server trains on them: the frame's real samples lie near the points (blur 0.05)
    real = np.array(page.evaluate("Array.from(window.gandyn.latest.real)")).reshape(-1, 2)
    nearest = np.linalg.norm(real[:, None, :] - np.array(good)[None], axis=2).min(1)
    assert len(real) > 100 and nearest.max() < 0.3
    page.wait_for_function("location.search.includes('pts=')")
    assert page.errors == []


def test_500_points_travel_in_the_link_within_its_limit(page: object) -> None:
    """The most points a run holds, at the widest coordinates: the address still fits."""
    rng = np.random.default_rng(0)
    pts = np.round(rng.uniform(-9.999, 9.999, (500, 2)), 3).tolist()
    upload(page, "wide.json", json.dumps({"points": pts}))
    page.wait_for_function("(window.gandyn.state.config.target.points || []).length === 500")
    # the address holds all 500 (an earlier test's few points may still be there at first)
    page.wait_for_function(
        "(new URLSearchParams(location.search).get('pts') || '').split(',').length === 500"
    )
    length, limit = page.evaluate(
        "async () => [location.href.length, (await import('/link.js')).MAX_LINK_CHARS]"
    )
    assert 6000 < length <= limit


def test_1d_values_from_a_json_file(page: object) -> None:
    upload(page, "values.json", "[-1.5, 0.5, 2.25]")
    page.wait_for_function("window.gandyn.state.config.dataset === 'points1d'")
    page.wait_for_function(DRAWN)
    assert page.evaluate("window.gandyn.kind") == "1d"
    assert page.evaluate("window.gandyn.state.config.target.values") == [-1.5, 0.5, 2.25]
    real = np.array(page.evaluate("Array.from(window.gandyn.latest.real)"))
    assert np.abs(real[:, None] - np.array([-1.5, 0.5, 2.25])[None]).min(1).max() < 0.3
    assert "item 2" in bad_upload(page, "mixed.json", "[1, [2, 3]]")


def test_drawing_starts_empty_and_clear_clears(page: object) -> None:
    page.select_option("select[data-path='dataset']", "ring8")
    page.wait_for_function("window.gandyn.kind === '2d'")
    page.wait_for_function(DRAWN)
    page.click("#btn-play")
    page.wait_for_function("window.gandyn.playing")
    page.select_option("select[data-path='dataset']", "points")
    page.wait_for_function("!document.getElementById('draw-hint').hidden")
    # an empty canvas: no points, no D surface, no samples of the old target; the run waits
    page.wait_for_function("!window.gandyn.playing")
    shown = "document.getElementById('view2d').layers"  # what the 2D view draws (view2d.js)
    assert page.evaluate("window.gandyn.views['2d'].drawingPoints") == []
    assert page.evaluate(f"{shown}[5].x.length + {shown}[7].x.length") == 0
    assert page.evaluate(f"{shown}[0].meta.surface") is False  # no D surface painted
    page.click("#btn-play")  # nothing to train on: it says so and stays paused
    page.wait_for_function("document.getElementById('notice').textContent.includes('Draw a point')")
    assert page.evaluate("window.gandyn.playing") is False

    box = page.locator("#view2d .nsewdrag").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in [(-0.25, -0.25), (0.25, -0.25), (0.0, 0.25)]:
        page.mouse.click(cx + dx * box["width"], cy + dy * box["height"])
    page.wait_for_function("(window.gandyn.state.config.target.points || []).length === 3")
    page.wait_for_function("window.gandyn.playing")  # it was playing: it plays on
    page.screenshot(path=str(ARTIFACTS / "page-data-drawing.png"))

    page.click("#btn-play")
    page.wait_for_function("!window.gandyn.playing")
    page.wait_for_function(DRAWN)
    assert page.evaluate(f"{shown}[7].x.length") > 0  # the run's real samples, drawn
    page.click("#draw-clear")  # the points, the D surface and the samples go
    page.wait_for_function(f"{shown}[7].x.length + {shown}[5].x.length === 0")
    assert page.evaluate("window.gandyn.views['2d'].drawingPoints") == []
    assert page.evaluate(f"{shown}[8].x.length") == 0
    page.mouse.click(cx, cy)
    page.wait_for_function("(window.gandyn.state.config.target.points || []).length === 1")
    page.wait_for_function(DRAWN)
    assert page.evaluate("window.gandyn.playing") is False  # paused before: it stays paused
    assert page.errors == []


def test_recording_the_plots_makes_a_webm(page: object) -> None:
    page.click("#btn-export")
    page.click("#export-webm")
    page.wait_for_function("!document.getElementById('rec-badge').hidden")
    page.wait_for_function("window.gandyn.recorder.frames >= 3")
    assert page.evaluate("document.getElementById('rec-time').textContent").startswith("0:")
    page.screenshot(path=str(ARTIFACTS / "page-data-recording.png"))
    with page.expect_download() as download:
        page.click("#rec-stop")
    data = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.endswith(".webm")
    assert data[:4] == bytes.fromhex("1A45DFA3") and len(data) > 1000  # EBML: a WebM file
    page.wait_for_function("document.getElementById('rec-badge').hidden")
    assert "frames" in page.evaluate("document.getElementById('toast').textContent")
    assert page.errors == []
