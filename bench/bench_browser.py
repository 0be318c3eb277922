"""Page speed: frames rendered per second by the lab page in headless Chromium.

Starts `gandyn serve` on a free port, opens the default page (the 2D view of the default
preset) in Debian's chromium, presses Play and reads the page's own counters
(window.gandyn.stats) over a window of 10 s (3 s when quick). Rendered frames are the ones
drawn (in 2D: the D surface and the painted layers; in 1D the traces' new data); skipped frames
are the ones replaced by a newer frame before they could be drawn (the page never queues
frames).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tools.chromium import launch

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gandyn serve did not start")


CAPACITY = """(ms) => new Promise((done) => {
  const g = window.gandyn, frames = g.lanes.map((l) => l.latest), n0 = g.stats.framesRendered;
  // every array that moves in play changes by 1e-3 each time, so no view can skip a frame as
  // unchanged: the real samples stay (they do not move while playing either)
  const moved = (f, k) => Object.fromEntries(Object.entries(f).map(([key, v]) => [key,
    key !== "real" && v instanceof Float32Array ? v.map((x) => x * (1 + 1e-3 * Math.sin(k))) : v]));
  const t0 = performance.now();
  let k = 0;
  function tick() {
    const t = performance.now() - t0;
    // frames per second of each lane (every lane gets a new frame each time)
    if (t > ms) { done((g.stats.framesRendered - n0) / frames.length / (t / 1000)); return; }
    k += 1;
    frames.forEach((f, i) => g.render({ ...moved(f, k), seq: f.seq + 1e6 + k }, i));
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})"""


# a second lane beside the default preset's, from the start with the hinge loss (lane_add)
ADD_LANE = """() => window.gandyn.session.send({type: 'lane_add', patch: {loss: 'hinge'}})"""


def main_thread_seconds(cdp: Any) -> float:
    """Seconds the page's main thread has spent in tasks so far (Chromium's TaskDuration)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


# the server at 1 iteration a frame (30 a second at most): what the page draws when the
# server's frames are not limited by the training worker's speed (at "normal", 4 iterations a
# frame, 30 frames a second need the worker to train 120 it/s besides the frames)
ONE_STEP_PACE = {"type": "pace", "slow_motion": 0, "fps": 30, "steps_per_frame": 1}


def measure(
    url: str, seconds: float, query: str = "", lanes: int = 1, pace: dict | None = None
) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{url}/{query}")
        page.wait_for_function(
            "window.gandyn && window.gandyn.ready && window.gandyn.stats.framesRendered > 0",
            timeout=30_000,
        )
        while page.evaluate("window.gandyn.lanes.length") < lanes:
            page.evaluate(ADD_LANE)
        page.wait_for_function(
            "(n) => window.gandyn.lanes.length === n && window.gandyn.lanes.every((l) => l.drawn)",
            arg=lanes,
            timeout=30_000,
        )
        if pace:
            page.evaluate("(p) => window.gandyn.session.send(p)", pace)
        page.click("#btn-play")
        page.wait_for_function(
            "window.gandyn.playing && window.gandyn.latest.iteration > 0", timeout=30_000
        )
        snap = (
            "({...window.gandyn.stats, iteration: window.gandyn.latest.iteration,"
            " drawn: window.gandyn.lanes.map((l) => l.drawn), t: performance.now()})"
        )
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        task0, a = main_thread_seconds(cdp), page.evaluate(snap)
        busy = []  # the playing worker's share of the last second spent training and framing
        for _ in range(max(1, round(seconds))):
            page.wait_for_timeout(1000)  # the measuring window itself, not a wait for a condition
            busy.append(worker_busy(url))
        task1, b = main_thread_seconds(cdp), page.evaluate(snap)
        # what the page alone can draw: the last frame fed again on every animation frame
        page.click("#btn-play")
        page.wait_for_function("!window.gandyn.playing", timeout=30_000)
        capacity = page.evaluate(CAPACITY, min(seconds, 5.0) * 1000)
        page.evaluate("window.gandyn.session.end()")
        browser.close()
    dt = (b["t"] - a["t"]) / 1000
    lanes = len(b["drawn"])
    each = [(n1 - n0) / dt for n0, n1 in zip(a["drawn"], b["drawn"], strict=True)]
    return {
        # per lane (the slowest lane's, with several)
        "rendered_fps": min(each),
        "received_fps": (b["framesReceived"] - a["framesReceived"]) / dt / lanes,
        "skipped_fps": (b["framesSkipped"] - a["framesSkipped"]) / dt / lanes,
        # all the page's main-thread work (messages, drawing, charts) per frame drawn
        "main_ms": 1000 * (task1 - task0) / max(1, sum(b["drawn"]) - sum(a["drawn"])),
        "iterations_per_s": (b["iteration"] - a["iteration"]) / dt,
        "capacity_fps": capacity,
        "worker_busy": statistics.median(busy),
        "seconds": dt,
    }


def worker_busy(url: str) -> float:
    """The busiest playing worker's share of the last second at work (/api/health)."""
    workers = httpx.get(f"{url}/api/health", timeout=10).json()["worker_details"]
    return max((w["busy"] for w in workers if w["playing"]), default=0.0)


def run(quick: bool = False) -> dict[str, Any]:
    """Frames rendered per second of the default 2D view (and, for scale, the 1D view)."""
    seconds, repeats = (3.0, 1) if quick else (10.0, 3)
    load_before = os.getloadavg()[0]
    proc, url = start_server()
    try:
        views = [
            ("default 2D view (preset ring8_wgan_gp, grid 64, 256 samples)", "", 1, None),
            ("the same with a second lane (hinge from the start), per lane", "", 2, None),
        ]
        if not quick:
            one_d = "?dataset=separated1d"
            views += [
                ("default 1D view (dataset separated1d), one lane", one_d, 1, None),
                ("the same, the server at 1 iteration a frame", one_d, 1, ONE_STEP_PACE),
                (
                    "1D, 2 lanes (preset saturated_discriminator), per lane",
                    "?preset=saturated_discriminator",
                    2,
                    None,
                ),
            ]
        # the views in turn, `repeats` times: every view sees the machine as the others do
        runs: list[list[dict[str, float]]] = [[] for _ in views]
        for _ in range(repeats):
            for i, (_, query, lanes, pace) in enumerate(views):
                runs[i].append(measure(url, seconds, query, lanes, pace))
        rows = []
        for (name, *_), ms in zip(views, runs, strict=True):
            med = {k: statistics.median(m[k] for m in ms) for k in ms[0]}
            fps = [m["rendered_fps"] for m in ms]
            rows.append(
                [
                    name,
                    f"{med['rendered_fps']:.1f} ({min(fps):.1f}-{max(fps):.1f})",
                    f"{med['received_fps']:.1f}",
                    f"{med['skipped_fps']:.1f}",
                    f"{med['main_ms']:.1f}",
                    f"{med['iterations_per_s']:.0f}",
                    f"{med['worker_busy']:.2f}",
                    f"{med['capacity_fps']:.1f}",
                ]
            )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "title": (
            f"Page: frames rendered per second in headless Chromium ({seconds:.0f} s window, "
            f"median of {repeats})"
        ),
        "header": [
            "view",
            "rendered fps: median (min-max)",
            "received fps",
            "skipped fps",
            "main-thread ms per frame drawn",
            "iterations/s",
            "training worker busy",
            "page-only capacity fps",
        ],
        "rows": rows,
        "notes": (
            f"Each view measured {repeats} times, the views in turn; medians. Load average "
            f"(1 min) {load_before:.1f} before the run. "
            "Targets (issue 15): >= 24 rendered fps for the default 2D view, >= 28 for 1D, "
            ">= 15 a lane with 2 lanes; the server sends up to 30, 4 iterations a frame (the "
            "page's 'normal' speed), so that the frames it sends depend on the training "
            "worker's speed (one core); at 1 iteration a frame they do not. With "
            "several lanes every number is per lane (rendered: the slowest lane's), the page "
            "drawing one panel per lane. Rendered/received/skipped come "
            "from the page's own counters while training plays; page-only capacity is the same "
            "page redrawing the last frame on every animation frame with training paused, its "
            "moving arrays changed by 1e-3 each time (so no view skips it as unchanged), i.e. "
            "what the browser side could do if frames came fast enough. Training worker busy: "
            "the share of each second the session's worker spent training and building frames "
            "(/api/health, read every second of the window; median): near 1.00 the worker, not "
            "the page, sets the frames received. Chromium runs with "
            "--disable-gpu (software raster) on the same cores as the training worker. A 2D "
            "frame is D's grid put into a small canvas stretched under the axes and the samples, "
            "arrows, field, trails and manifold painted on a canvas over them (web/paint.js); "
            "Plotly redraws only when the axes or the contours change. 1D: the densities, D, "
            "the rugs and arrows painted on a canvas over the axes the same way; Plotly redraws "
            "the axes only when they change (web/view1d.js). "
            "Main-thread ms per frame drawn: all the page's main-thread work in the window "
            "(Chromium's TaskDuration: messages, drawing, the metric charts once a second) over "
            "the frames drawn, lanes together."
        ),
    }


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run(quick="--quick" in sys.argv)))
