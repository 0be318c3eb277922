"""Pictures for the lecture gallery: web/thumbs/NAME.png, one per preset, and web/thumbs/index.json.

Each preset is opened in headless chromium the way a lecturer opens it (lecture mode, the
settings, notes, gallery and metrics hidden), trained for the number of iterations at which
its phenomenon shows (RECIPES; exact steps, so the pictures are reproducible), and the main
plot alone is rendered with Plotly, stripped of ticks, titles and legend, and downscaled to
240 x 160. index.json lists the pictures that exist: the gallery asks only for those, so a
preset added later gets a title-only card.

    gandyn serve --port 8765 &
    .venv/bin/python -m tools.make_thumbnails --base-url http://127.0.0.1:8765
    .venv/bin/python -m tools.make_thumbnails --base-url http://127.0.0.1:8765 --only dirac_gan
"""

from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
from playwright.sync_api import sync_playwright

from tools.chromium import launch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "web" / "thumbs"
# what the lecturer sees, minus everything but the plot
HIDE = "settings,notes,gallery,metrics,view"

# Generator iterations after loading (and after the preset's own warm-up, done by the server)
# at which each phenomenon is on the screen. A preset not listed gets DEFAULT_ITERATIONS.
RECIPES: dict[str, int] = {
    "saturated_discriminator": 20,  # D is a step, the fakes sit still
    "js_blind_to_distance": 400,  # the fakes half way to the real data
    "minimax_vs_nonsaturating": 20,  # stalled under minimax
    "clip_vs_gradient_penalty": 500,  # the flat clipped critic
    "mode_collapse_ring": 1500,  # the cloud of fakes on one mode
    "grid25_wgan_gp": 3000,  # the grid filling in
    "swissroll_wgan_gp": 3000,  # the roll unrolling
    "dirac_gan": 60,  # a circle around the equilibrium
    "lsgan_and_hinge": 10,  # D's curve between the two
    "spectral_norm_switch": 200,  # a gentle D
    "instance_noise_annealed": 150,  # noisy, smooth D half way through the anneal
    "ring8_wgan_gp": 2000,  # the ring learned
    "bilinear_game": 100,  # the spiral out
    "dirac_gan_methods": 150,  # the GAN spiralling out
    "unrolled_ring": 500,  # the collapsed cloud
    "consensus_ring": 500,  # simultaneous steps wandering
    "ema_generator": 300,  # G circling, its average at the data
    "mode_seeking_vs_covering": 600,  # the Gaussian on one mode
    "mode_covering_forward_kl": 400,  # the Gaussian over both modes
    "frechet_blind_to_modes": 400,  # the blob with the ring's moments
    "feature_matching": 500,  # the blur over the ring
    "ebgan": 1000,  # the fakes on the moons
    "packing_and_minibatch_stddev": 1000,  # the fakes spread over the ring
    "minibatch_stddev_ring": 1000,  # the fakes spread over the ring
    "batchnorm_and_the_penalty": 100,  # the critic with batch norm, content with its penalty
    "batchnorm_in_g_or_d": 400,  # batch norm in neither: at most one mode
    "truncation_trades_recall": 20,  # after the warm-up's 300: the blob, untruncated
    "noisy_labels": 200,  # with label noise the fakes reached the real mode
    "tanh_output_and_scaling": 400,  # the scaled target learned through tanh
}
DEFAULT_ITERATIONS = 300
READY = "window.gandyn && window.gandyn.ready && window.gandyn.stats.framesRendered > 0"

# Render the visible plot without ticks, titles, legend and notes at 2.5 x the thumbnail
# size, then let the canvas downscale it (markers and lines come out fine and anti-aliased).
RENDER_JS = """
async ([w, h, k]) => {
  const view = window.gandyn.views[window.gandyn.kind], div = view.div;
  // the 2D view paints most of its layers live: its export figure holds them all
  const fig = view.exportFigure ? view.exportFigure() : { data: div.data, layout: div.layout };
  const layout = JSON.parse(JSON.stringify(fig.layout));
  for (const key of Object.keys(layout)) {
    if (/^[xy]axis\\d*$/.test(key)) Object.assign(layout[key], {
      showticklabels: false, ticks: "", title: { text: "" }, linecolor: "#888", showgrid: false });
  }
  const m = 6;
  Object.assign(layout, { width: w * k, height: h * k, showlegend: false, annotations: [],
    margin: { l: m, r: m, t: m, b: m } });
  let data = fig.data.filter((t) => !t.marker?.showscale);   // no colour bar
  // 2D and Dirac: frame what matters (the samples; the trajectory and the equilibrium) so
  // that it fills the picture, at equal scales on both axes
  const f = window.gandyn.latest;
  let pts = [];
  if (f.kind === "2d") pts = [...(f.real || []), ...(f.fake || [])];
  if (f.kind === "dirac") {
    pts = [0, 0, f.theta, f.psi, ...(f.trajectory || [])];
    // the parameter plane alone (the data-space panel is the same line every time)
    data = data.filter((t) => t.xaxis !== "x2");
    delete layout.xaxis2;
    delete layout.yaxis2;
  }
  if (pts.length) {
    const [lo, hi] = f.kind === "dirac" ? f.dirac_extent || [-2, 2] : f.extent;
    const clip = (v) => Math.min(hi, Math.max(lo, v));
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i + 1 < pts.length; i += 2) {
      const x = clip(pts[i]), y = clip(pts[i + 1]);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const ratio = (w * k - 2 * m) / (h * k - 2 * m);
    const half = 1.12 * Math.max((y1 - y0) / 2, (x1 - x0) / 2 / ratio, 0.15 * (hi - lo));
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    Object.assign(layout.xaxis, { range: [cx - half * ratio, cx + half * ratio],
      constrain: "range" });
    Object.assign(layout.yaxis, { range: [cy - half, cy + half], constrain: "range" });
    delete layout.xaxis.scaleanchor;
    delete layout.yaxis.scaleanchor;
    // Plotly wrote the live plot's constrained domains back into the layout: take them out
    layout.xaxis.domain = [0, 1];
    layout.yaxis.domain = [0, 1];
  }
  const url = await Plotly.toImage({ data, layout },
    { format: "png", width: w * k, height: h * k });
  const img = new Image();
  await new Promise((ok, bad) => { img.onload = ok; img.onerror = bad; img.src = url; });
  const cv = document.createElement("canvas");
  cv.width = w; cv.height = h;
  const c = cv.getContext("2d");
  c.imageSmoothingEnabled = true;
  c.imageSmoothingQuality = "high";
  c.fillStyle = "#ffffff";
  c.fillRect(0, 0, w, h);
  c.drawImage(img, 0, 0, w, h);
  const px = c.getImageData(0, 0, w, h).data;   // RGBA bytes, for a palette PNG in Python
  let bin = "";
  for (let i = 0; i < px.length; i += 8192) {
    bin += String.fromCharCode.apply(null, px.subarray(i, i + 8192));
  }
  return btoa(bin);
}
"""


def make(
    page, base: str, name: str, iterations: int, size: tuple[int, int], budget: float
) -> bytes:
    page.goto(f"{base}/?preset={name}&lecture=1&hide={HIDE}")
    page.wait_for_function(READY, timeout=60_000)
    page.wait_for_function(
        "(n) => window.gandyn.state.preset === n && window.gandyn.latest", arg=name
    )
    # counted from the first frame: after a warm-up of full iterations it is not 0
    start = page.evaluate("window.gandyn.latest.iteration")
    # a step may do fewer iterations than asked (the server's limit on one step's work):
    # step again from where its ack says the run is
    at, target = start, start + iterations
    deadline = time.monotonic() + budget
    while at < target:
        at = page.evaluate(
            "(n) => window.gandyn.session.send({type: 'step', n, part: 'both'})"
            ".then((ack) => ack.iteration)",
            min(1000, target - at),
        )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: {iterations} iterations took longer than {budget} s")
    page.wait_for_function(
        "(n) => { const g = window.gandyn; return g.latest.iteration >= n && !g.playing; }",
        arg=start + iterations,
        timeout=budget * 1000,
    )
    # the loop draws the newest frame on the next animation frame
    page.wait_for_function(
        "() => { const g = window.gandyn; return g.stats.framesRendered > 0 &&"
        " document.getElementById('iteration').textContent.replace(/,/g, '')"
        " == String(g.latest.iteration); }"
    )
    rgba = base64.b64decode(page.evaluate(RENDER_JS, [size[0], size[1], 2.5]))
    rgb = np.frombuffer(rgba, np.uint8).reshape(size[1], size[0], 4)[:, :, :3]
    return palette_png(rgb)


def palette_png(rgb: np.ndarray, colours: int = 256, rounds: int = 4) -> bytes:
    """An 8-bit palette PNG of an RGB image (a few KB where RGB PNGs take tens).

    The palette starts from the most frequent colours at 5 bits per channel and is refined by
    a few rounds of k-means; every pixel takes its nearest palette colour.
    """
    h, w, _ = rgb.shape
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    coarse = (rgb.reshape(-1, 3) >> 3).astype(np.int32)
    keys = (coarse[:, 0] << 10) | (coarse[:, 1] << 5) | coarse[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    top = np.argsort(-counts)[:colours]
    palette = np.stack([pixels[inverse == i].mean(axis=0) for i in top])
    for _ in range(rounds):
        d = ((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
        index = d.argmin(axis=1)
        for j in range(len(palette)):
            members = pixels[index == j]
            if len(members):
                palette[j] = members.mean(axis=0)
    d = ((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
    index = d.argmin(axis=1).astype(np.uint8).reshape(h, w)
    plte = np.clip(np.rint(palette), 0, 255).astype(np.uint8).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + row.tobytes() for row in index)  # filter 0 suits palette rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
        + chunk(b"PLTE", plte)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--base-url", required=True, help="a running gandyn serve, e.g. http://127.0.0.1:8765"
    )
    ap.add_argument("--only", nargs="*", help="preset names (default: every preset)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--size", default="240x160", help="W x H in pixels")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds allowed per preset")
    args = ap.parse_args(argv)
    base = args.base_url.rstrip("/")
    size = tuple(int(v) for v in args.size.lower().split("x"))
    presets = httpx.get(f"{base}/api/presets", timeout=10).json()
    names = [p["name"] for p in presets if not args.only or p["name"] in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    index_path = args.out / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"thumbs": {}}
    known = {p["name"] for p in presets}
    index["thumbs"] = {k: v for k, v in index.get("thumbs", {}).items() if k in known}
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            for name in names:
                iterations = RECIPES.get(name, DEFAULT_ITERATIONS)
                t0 = time.monotonic()
                png = make(page, base, name, iterations, size, args.budget)
                (args.out / f"{name}.png").write_bytes(png)
                index["thumbs"][name] = {"iterations": iterations, "size": f"{size[0]}x{size[1]}"}
                seconds = time.monotonic() - t0
                print(f"{name}: {iterations} iterations, {len(png) / 1024:.1f} KB, {seconds:.1f} s")
        finally:
            page.evaluate("window.gandyn && window.gandyn.session && window.gandyn.session.end()")
            browser.close()
    index["thumbs"] = dict(sorted(index["thumbs"].items()))
    index_path.write_text(json.dumps(index, indent=1) + "\n")
    if errors:
        print("page errors:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
