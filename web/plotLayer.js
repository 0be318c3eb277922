// A canvas over a Plotly plot's area, for the layers a view paints itself (paint.js), and an
// HTML overlay on the same box, for its notes and its hover text. With them a frame costs no
// Plotly update unless the axes change: Plotly draws the axes, the view paints the rest.
// Used by the 1D and 2D views.

import { C } from "./theme.js";

/** Pixels the canvas reaches beyond the plot area: markers on its border are drawn whole. */
export const EDGE_PAD = 10;
/** Pixels: the pointer is "on" a sample (a marker) this close to it. */
export const HOVER_RADIUS = 8;

/** The index of the point of layer t (a Plotly trace object) nearest to pixel (px, py) within
 * `radius` pixels, or -1 (and -1 for a hidden layer); toPx(x, y) maps its data to pixels. */
export function nearestPoint(t, toPx, px, py, radius = HOVER_RADIUS) {
  let best = -1, bestD = radius * radius;
  for (let i = 0; t && t.visible !== false && i < t.x.length; i++) {
    if (!Number.isFinite(t.x[i]) || !Number.isFinite(t.y[i])) continue;
    const [qx, qy] = toPx(t.x[i], t.y[i]);
    const d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d <= bestD) { bestD = d; best = i; }
  }
  return best;
}

const TIP_STYLE = {
  position: "absolute", background: "rgba(255,255,255,0.94)", border: "1px solid #888", borderRadius: "4px", padding: "3px 6px",
  fontSize: "var(--fs-small, 12px)", whiteSpace: "nowrap", lineHeight: "1.35", fontVariantNumeric: "tabular-nums", zIndex: 5,
};
const RING_STYLE = { position: "absolute", width: "16px", height: "16px", margin: "-8px 0 0 -8px", border: `2px solid ${C.ink}`, borderRadius: "50%", zIndex: 4 };

/**
 * The canvas and overlay of the plot `div`. canvasClass: the canvas' class; overlayClass and
 * overlayHtml: the overlay's class and its elements (the hover text and the ring that marks
 * the sample it is about are added); under: an element laid on the plot area under Plotly's
 * SVG (the 2D view's D surface), or null.
 */
export function createPlotLayer(div, { canvasClass, overlayClass, overlayHtml = "", under = null }) {
  const canvas = document.createElement("canvas");
  canvas.className = canvasClass;
  canvas.style.cssText = "position:absolute;pointer-events:none;";
  const ov = document.createElement("div");
  ov.className = overlayClass;
  ov.innerHTML = `${overlayHtml}<div class="ov-hover" role="tooltip" hidden></div><div class="ov-ring" hidden></div>`;
  const tip = ov.querySelector(".ov-hover"), ring = ov.querySelector(".ov-ring");
  Object.assign(tip.style, TIP_STYLE);
  Object.assign(ring.style, RING_STYLE);
  let geometry = "";   // where the canvas was last placed

  /** The plot area in CSS pixels relative to the div ({x0, y0, w, h}), or null before Plotly drew. */
  function area() {
    const fl = div._fullLayout;
    return fl && fl.xaxis && fl.yaxis ? { x0: fl.xaxis._offset, w: fl.xaxis._length, y0: fl.yaxis._offset, h: fl.yaxis._length } : null;
  }

  /** Put `under` under the plot's SVG, the canvas over it and the overlay over both, sized to
   * the plot area (the canvas at the screen's pixel density). The area, or null. */
  function place() {
    const a = area();
    const box = div.querySelector(".svg-container");
    if (!a || !box) return null;
    if (under && under.parentNode !== box) box.prepend(under);
    if (canvas.parentNode !== box || (box.lastChild !== canvas && box.lastChild !== ov)) box.append(canvas);
    if (ov.parentNode !== box || box.lastChild !== ov) box.append(ov);
    const dpr = Math.max(1, window.devicePixelRatio || 1);
    const key = `${a.x0},${a.y0},${a.w},${a.h},${dpr}`;
    if (key === geometry) return a;
    geometry = key;
    if (under) Object.assign(under.style, { left: `${a.x0}px`, top: `${a.y0}px`, width: `${a.w}px`, height: `${a.h}px` });
    Object.assign(canvas.style, { left: `${a.x0 - EDGE_PAD}px`, top: `${a.y0 - EDGE_PAD}px`, width: `${a.w + 2 * EDGE_PAD}px`, height: `${a.h + 2 * EDGE_PAD}px` });
    canvas.width = Math.round((a.w + 2 * EDGE_PAD) * dpr);
    canvas.height = Math.round((a.h + 2 * EDGE_PAD) * dpr);
    canvas.dataset.dpr = String(dpr);
    return a;
  }

  /** The canvas cleared for a new frame: its context, the pixel density and, in canvas pixels,
   * the plot area's offset `pad` and size W x H. */
  function begin() {
    const dpr = Number(canvas.dataset.dpr) || 1, pad = EDGE_PAD * dpr;
    const c = canvas.getContext("2d");
    c.clearRect(0, 0, canvas.width, canvas.height);
    return { c, dpr, pad, W: canvas.width - 2 * pad, H: canvas.height - 2 * pad };
  }

  // what was last written into each overlay element: no rewrite, no relayout
  const written = new WeakMap();
  /** Set el's `prop` ("html", "hidden" or a style property) to value, if it changed. */
  function put(el, prop, value) {
    const m = written.get(el) || {};
    if (m[prop] === value) return;
    m[prop] = value; written.set(el, m);
    if (prop === "html") el.innerHTML = value; else if (prop === "hidden") el.hidden = value; else el.style[prop] = value;
  }

  /** The pointer event's position in plot-area pixels ({px, py, inside}), or null farther
   * than `slack` pixels outside the area (the markers on its border reach EDGE_PAD beyond it). */
  function point(ev, slack = 0) {
    const r = canvas.getBoundingClientRect(), a = area();
    if (!a || !r.width) return null;
    const px = ev.clientX - r.left - EDGE_PAD, py = ev.clientY - r.top - EDGE_PAD;
    const within = (s) => px >= -s && py >= -s && px <= a.w + s && py <= a.h + s;
    return within(slack) ? { px, py, inside: within(0) } : null;
  }

  /** The hover text (lines of HTML) beside the pointer at (px, py), on the side of the plot
   * with more room; at: the marked sample in plot-area pixels ([qx, qy]) or null; data: the
   * tip's data attributes (what it is about, for readers of the page). */
  function showTip(lines, { px, py }, at, data) {
    const a = area();
    if (!a) return;
    tip.hidden = !lines.length;
    Object.assign(tip.dataset, data);
    tip.innerHTML = lines.map((l) => `<div>${l}</div>`).join("");
    const left = px > a.w * 0.55, up = py > a.h * 0.6;
    tip.style.left = `${a.x0 + px + (left ? -12 : 12)}px`;
    tip.style.top = `${a.y0 + py + (up ? -12 : 12)}px`;
    tip.style.transform = `translate(${left ? "-100%" : "0"}, ${up ? "-100%" : "0"})`;
    ring.hidden = !at;
    if (at) Object.assign(ring.style, { left: `${a.x0 + at[0]}px`, top: `${a.y0 + at[1]}px` });
  }

  function hideTip() { tip.hidden = true; ring.hidden = true; }

  return { canvas, ov, area, place, begin, put, point, showTip, hideTip, invalidate() { geometry = ""; } };
}
