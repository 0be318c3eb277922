// Record the plots (every lane's panel, where there are several) to a WebM file, for slides.
//
// Each recorded frame copies the page's own drawing into one canvas: every Plotly SVG layer
// and canvas of each visible plot in the page's order (the 2D view's D surface and its painted
// samples and arrows are canvases under and over its SVG), then the
// little HTML the views add on top (the lane heads, the notes over a plot, the D colour bar)
// as canvas text and gradients. canvas.captureStream(0) + MediaRecorder make the WebM; a frame
// goes in only when one is copied, so the video keeps real time at whatever rate the copies
// reach. Measured in headless Chromium on this machine: one 2D plot copies in 70-150 ms (about
// 8 frames a second); Plotly.toImage took 0.6-1.6 s a frame, too slow to record with.
//
// Bounds: at most MAX_SECONDS of video (it stops and downloads by itself), copied at most
// MAX_FPS times a second, at VIDEO_BITS per second: at most 120 s x 2.5 Mbit/s = 38 MB held in
// memory until the download.

export const MAX_SECONDS = 120;
export const MAX_FPS = 15;
const VIDEO_BITS = 2_500_000;
const MAX_WIDTH = 1920;     // a wider page is scaled down to this

const MIME = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];

async function svgImage(svg) {
  const xml = new XMLSerializer().serializeToString(svg);
  const url = URL.createObjectURL(new Blob([xml], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally { URL.revokeObjectURL(url); }
}

/** The text of an HTML element drawn where it sits (a tall narrow box: turned upright). */
function drawText(g, el, at) {
  const lines = el.innerText.split("\n").map((l) => l.trim()).filter(Boolean);   // <br>: lines
  const text = lines.join(" ");
  if (!text || el.closest("[hidden]")) return;
  const r = at(el.getBoundingClientRect());
  const cs = getComputedStyle(el);
  g.save();
  if (!/^(transparent|rgba\(0, 0, 0, 0\))$/.test(cs.backgroundColor)) {   // a note's box
    g.fillStyle = cs.backgroundColor;
    g.fillRect(r.x, r.y, r.w, r.h);
  }
  g.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  g.fillStyle = cs.color;
  g.textBaseline = "middle";
  if (r.h > 2 * r.w && text.length > 3) {
    g.translate(r.x + r.w / 2, r.y + r.h / 2);
    g.rotate(-Math.PI / 2);
    g.textAlign = "center";
    const step = parseFloat(cs.fontSize) * 1.2;
    lines.forEach((line, i) => g.fillText(line, 0, (i - (lines.length - 1) / 2) * step));
  } else {
    const pad = parseFloat(cs.paddingLeft) * (r.w / Math.max(1, el.getBoundingClientRect().width));
    const step = r.h / lines.length;
    lines.forEach((line, i) => g.fillText(line, r.x + pad, r.y + (i + 0.5) * step, Math.max(r.w - 2 * pad, 1) * 1.05));
  }
  g.restore();
}

/** A vertical CSS linear-gradient (the D colour bar) as a canvas gradient. */
function drawGradient(g, el, at) {
  if (el.closest("[hidden]")) return;
  const r = at(el.getBoundingClientRect());
  const bg = getComputedStyle(el).backgroundImage;
  const grad = g.createLinearGradient(0, r.y + r.h, 0, r.y);
  for (const m of bg.matchAll(/(rgba?\([^)]*\)|#[0-9a-f]{3,8})\s+([\d.]+)%/gi)) grad.addColorStop(Math.min(1, +m[2] / 100), m[1]);
  g.fillStyle = grad;
  g.fillRect(r.x, r.y, r.w, r.h);
}

/**
 * A recorder of the element `root` (the plots' wrap). onTick({seconds, fps}) while recording;
 * onStop({blob, seconds, frames, fps, why}) when it ends (`why`: "stopped" or "limit").
 */
export function createRecorder(root, { onTick, onStop } = {}) {
  let rec = null;   // {recorder, track, canvas, g, chunks, t0, frames, scale, stopping}

  function place(scale) {
    const w = root.getBoundingClientRect();
    return (r) => ({ x: (r.left - w.left) * scale, y: (r.top - w.top) * scale, w: r.width * scale, h: r.height * scale });
  }

  async function copyFrame(cur) {
    const { g, canvas, scale } = cur;
    const at = place(scale);
    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, canvas.width, canvas.height);
    for (const div of root.querySelectorAll(".lane-panel:not([hidden]) .plot.view:not([hidden])")) {
      const r = at(div.getBoundingClientRect());
      // in the page's order: the 2D view's D surface (a canvas under the SVG), the SVG, its painted layers (a canvas over it)
      for (const el of div.querySelectorAll("canvas:not([hidden]), svg.main-svg")) {
        if (el.tagName === "CANVAS") { const c = at(el.getBoundingClientRect()); g.drawImage(el, c.x, c.y, c.w, c.h); } else g.drawImage(await svgImage(el), r.x, r.y, r.w, r.h);
      }
    }
    // in the page's order, so that what is drawn over what stays so
    for (const el of root.querySelectorAll(".lane-head:not([hidden]) span, .ov-note, .ov-ghost, .ov-edge, .ov-manifold, .cbar-grad, .cbar-ticks span, .cbar-title")) {
      (el.classList.contains("cbar-grad") ? drawGradient : drawText)(g, el, at);
    }
    if (cur.stopping) return;   // stopped while copying: the recorder is done
    cur.track.requestFrame();
    cur.frames++;
  }

  async function run() {
    const cur = rec;
    while (!cur.stopping) {
      const t = performance.now();
      try { await copyFrame(cur); } catch (e) { console.error("gandyn: a recorded frame failed", e); }
      if (cur.stopping) return;
      const seconds = (performance.now() - cur.t0) / 1000;
      onTick?.({ seconds, fps: cur.frames / Math.max(seconds, 1e-3) });
      if (seconds >= MAX_SECONDS) { stop("limit"); return; }
      const wait = 1000 / MAX_FPS - (performance.now() - t);
      await new Promise((done) => (wait > 0 ? setTimeout(done, wait) : requestAnimationFrame(done)));
    }
  }

  function start() {
    if (rec) return false;
    const box = root.getBoundingClientRect();
    const scale = Math.min(1, MAX_WIDTH / Math.max(1, box.width));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(2, Math.round(box.width * scale / 2) * 2);   // even sizes for the codec
    canvas.height = Math.max(2, Math.round(box.height * scale / 2) * 2);
    const stream = canvas.captureStream(0);
    const mimeType = MIME.find((m) => MediaRecorder.isTypeSupported(m));
    const recorder = new MediaRecorder(stream, { mimeType, videoBitsPerSecond: VIDEO_BITS });
    rec = { recorder, track: stream.getVideoTracks()[0], canvas, g: canvas.getContext("2d"), chunks: [], t0: performance.now(), frames: 0, scale, stopping: false, why: "stopped" };
    recorder.ondataavailable = (e) => { if (e.data.size) rec.chunks.push(e.data); };
    recorder.onstop = () => {
      const done = rec;
      rec = null;
      const seconds = (performance.now() - done.t0) / 1000;
      onStop?.({ blob: new Blob(done.chunks, { type: "video/webm" }), seconds, frames: done.frames, fps: done.frames / Math.max(seconds, 1e-3), why: done.why });
    };
    recorder.start(1000);
    run();
    return true;
  }

  function stop(why = "stopped") {
    if (!rec || rec.stopping) return;
    rec.stopping = true;
    rec.why = why;
    rec.recorder.stop();
  }

  return { start, stop, get recording() { return !!rec; }, get frames() { return rec ? rec.frames : 0; } };
}

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

/**
 * The page's recording controls: `toggle` (the Export menu item) starts and stops, the badge
 * shows the elapsed time and the frame rate recorded, its Stop button stops; the finished
 * video goes to save(blob), and say(text) tells what was recorded.
 */
export function wireRecording(root, { toggle, badge, time, fps, stopButton, save, say }) {
  const recorder = createRecorder(root, {
    onTick: ({ seconds, fps: rate }) => {
      time.textContent = clock(seconds);
      fps.textContent = `${rate.toFixed(1)} fps`;
    },
    onStop: ({ blob, seconds, frames, fps: rate, why }) => {
      badge.hidden = true;
      toggle.textContent = "Record the plots (WebM)";
      save(blob);
      say(`Recorded ${clock(seconds)} (${frames} frames, ${rate.toFixed(1)} a second: the video plays in real time)${why === "limit" ? `; a recording stops at ${MAX_SECONDS / 60} minutes` : ""}.`);
    },
  });
  toggle.addEventListener("click", () => {
    if (recorder.recording) { recorder.stop(); return; }
    if (!recorder.start()) return;
    time.textContent = clock(0);
    fps.textContent = "";
    badge.hidden = false;
    toggle.textContent = "Stop recording";
  });
  stopButton.addEventListener("click", () => recorder.stop());
  return recorder;
}
