// The 2D view: D as a heatmap (probability or raw score, diverging around `undecided`),
// optional contours, real and fake samples, the generator's push on each fake as arrows
// (one trace), optional push field on a grid, trails and the generator manifold.
// Also the drawing surface for the "points" target.

import { C, DIVERGING, sizes, baseLayout, axis, PLOT_CONFIG, arrowPath, quantileLength, ArrowScale, fmt, pushLabel } from "./theme.js";
import { dSpread } from "./scales.js";

// ghost*: the fakes before the last step while paused (faded), thin lines to where they went,
// and D's decision line (white level) before and after a D step
const T = { heat: 0, contour: 1, manifold: 2, trails: 3, field: 4, fake: 5, arrows: 6, real: 7, drawn: 8, ghostLinks: 9, ghost: 10, boundaryBefore: 11, boundaryAfter: 12, fakeEma: 13 };

function niceTicks(lo, hi) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / 7;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw) || raw;
  const out = [];
  // a tick within rounding of zero is 0 (not -2.8e-17)
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Math.abs(v) < 1e-9 * span ? 0 : +v.toPrecision(6));
  return out;
}

/** A cheap fingerprint of a sample array (same samples -> same key). */
function sampleKey(a) {
  if (!a || !a.length) return "none";
  let h = 0;
  for (let i = 0; i < a.length; i++) h = (h * 31 + Math.round(a[i] * 1e4)) | 0;
  return `${a.length}:${h}`;
}

/** 256 RGB triples interpolated along a Plotly-style colour scale. */
function makeLut(stops) {
  const rgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const out = new Uint8ClampedArray(256 * 3);
  for (let k = 0; k < 256; k++) {
    const t = k / 255;
    let a = 0;
    while (a < stops.length - 2 && stops[a + 1][0] < t) a++;
    const [t0, c0] = stops[a], [t1, c1] = stops[a + 1];
    const w = (t - t0) / (t1 - t0 || 1);
    const A = rgb(c0), B = rgb(c1);
    for (let c = 0; c < 3; c++) out[k * 3 + c] = A[c] + (B[c] - A[c]) * w;
  }
  return out;
}

/** The diverging scale with its white point moved from 0.5 to fu (for the colour bar). */
function rescale(stops, fu) {
  return stops.map(([p, c]) => [p <= 0.5 ? (p / 0.5) * fu : fu + ((p - 0.5) / 0.5) * (1 - fu), c]);
}

export function createView2d(div) {
  const scale = new ArrowScale(0.05);
  let lowR = 0, highR = 0; // colour range below / above `undecided` for raw scores, smoothed
  let image = null;        // data URL of the painted D surface
  let bar = null;          // colour bar: {zmin, zmax, fu, prob, title}
  let colorbarTrace = null;
  let lastFigure = null;
  let sprite = null;       // {key, size, url}: the real samples painted once
  let spriteOn = false;
  let realKeyNow = "";
  let lastRealKey = "";
  window.addEventListener("resize", () => { sprite = null; });
  const canvas = document.createElement("canvas");
  const lut = makeLut(DIVERGING);

  /** D on the grid -> an image, white at u, purple below, green above (row 0 = top = y max). */
  function paint(grid, g, zmin, zmax, u) {
    if (canvas.width !== g) { canvas.width = g; canvas.height = g; }
    const c2 = canvas.getContext("2d");
    const img = c2.createImageData(g, g);
    const px = img.data;
    const lo = u - zmin, hi = zmax - u;
    for (let i = 0; i < g; i++) {
      const row = g - 1 - i;
      for (let j = 0; j < g; j++) {
        const v = grid[i * g + j];
        let t;
        if (!Number.isFinite(v)) t = v > 0 ? 1 : 0;
        else t = v < u ? 0.5 - 0.5 * Math.min(1, (u - v) / lo) : 0.5 + 0.5 * Math.min(1, (v - u) / hi);
        const k = Math.round(t * 255) * 3;
        const o = (row * g + j) * 4;
        px[o] = lut[k]; px[o + 1] = lut[k + 1]; px[o + 2] = lut[k + 2]; px[o + 3] = 255;
      }
    }
    c2.putImageData(img, 0, 0);
    return canvas.toDataURL("image/png");
  }
  let renders = 0;         // datarevision of each Plotly.react
  let ghostInfo = null;    // what the faded "before the step" layer shows, for the caption
  let drawing = null;      // {points: [[x, y]], onChange} while the "points" target is being drawn
  let lastFrame = null;
  let lastCtx = null;
  let plotted = false;
  let dragging = false;

  function split(arr, dim = 2) {
    const n = arr ? arr.length / dim : 0;
    const x = new Array(n), y = new Array(n);
    for (let i = 0; i < n; i++) { x[i] = arr[i * dim]; y[i] = arr[i * dim + 1]; }
    return { x, y };
  }

  function traces(f, ctx) {
    const s = sizes(ctx.lecture);
    const [lo, hi] = f.extent || [-2, 2];
    const span = hi - lo;
    const out = [];

    // ---- heatmap of D: painted into a small canvas and laid under the axes as an image
    // (much cheaper per frame than a heatmap trace; the browser smooths it when scaling) ----
    const g = f.shapes?.d_grid ? f.shapes.d_grid[0] : 0;
    // white is the frame's `undecided`: where D cannot tell real from fake. For the
    // shift-invariant critics (wgan, rsgan) the engine sends the midpoint of D's mean scores
    // on real and fake samples; for the others a fixed level of the loss (0.5, 0).
    const u = Number.isFinite(f.undecided) ? f.undecided : (f.display === "probability" ? 0.5 : 0);
    let zmin, zmax;
    const centreNote = f.display === "probability" ? "" : ctx.midpoint ? "white: halfway between real and fake" : `white: D(x) = ${fmt(u, 3)}`;
    if (f.display === "probability") { zmin = 0; zmax = 1; } else if (ctx.shared) {
      // lanes side by side: one scale for all (scales.js), so a colour means the same D
      // difference from white in every panel
      lowR = ctx.shared.low; highR = ctx.shared.high;
      zmin = u - lowR; zmax = u + highR;
    } else {
      const spread = dSpread(f);
      // white stays at the centre; each side spans what the critic actually reaches
      lowR = Math.max(spread.low, lowR * 0.95, 1e-3);
      highR = Math.max(spread.high, highR * 0.95, 1e-3);
      zmin = u - lowR; zmax = u + highR;
    }
    const fu = Math.min(Math.max((u - zmin) / (zmax - zmin), 0.02), 0.98);
    image = g ? paint(f.d_grid, g, zmin, zmax, u) : null;
    const cbTitle = f.display === "probability" ? "D(x) = P(real)" : `critic score D(x)<br><span style="font-size:0.9em">${centreNote}</span>`;
    const prob = f.display === "probability";
    bar = { zmin, zmax, fu, prob, title: cbTitle, u };
    colorbarTrace = {
      // for export only: carries the colour bar (one invisible point outside the axes)
      type: "scatter", mode: "markers", x: [lo - 10 * span], y: [lo - 10 * span], hoverinfo: "skip",
      marker: {
        color: [zmin, zmax], cmin: zmin, cmax: zmax, size: 0.1, showscale: true, colorscale: rescale(DIVERGING, fu),
        colorbar: {
          title: { text: cbTitle, side: "right", font: { size: s.title } },
          thickness: s.cbThick, len: 0.9, outlinewidth: 1, outlinecolor: "#555",
          tickfont: { size: s.tick }, tickformat: prob ? ".2f" : ".2~g", x: 1.02,
          tickvals: prob ? [0, 0.25, 0.5, 0.75, 1] : undefined,
          ticktext: prob ? ["0  fake", "0.25", "0.5  unsure", "0.75", "1  real"] : undefined,
        },
      },
    };
    // live, the colour bar is HTML beside the plot (a Plotly colour bar costs a third of a frame)
    // (its meta says what the colours mean, for a reader of the figure: D at the two ends)
    out[T.heat] = { type: "scatter", mode: "markers", x: [], y: [], hoverinfo: "skip", meta: { colorRange: [zmin, zmax], undecided: u, lane: f.lane ?? null } };
    const axisPts = g && ctx.view.contours ? Array.from({ length: g }, (_, i) => lo + (span * i) / (g - 1)) : [];
    const z = [];
    if (ctx.view.contours) for (let i = 0; i < g; i++) z.push(Array.from(f.d_grid.subarray(i * g, (i + 1) * g)));
    out[T.contour] = ctx.view.contours && g ? {
      type: "contour", x: axisPts, y: axisPts, z, showscale: false, hoverinfo: "skip",
      contours: { coloring: "none", showlabels: true, labelfont: { size: s.tick - 1, color: "#222" } },
      ncontours: 12, line: { color: "rgba(30,30,30,0.6)", width: ctx.lecture ? 2 : 1 },
    } : { type: "scatter", mode: "lines", x: [], y: [], hoverinfo: "skip" };

    // ---- manifold: rows and columns of the warped z-grid ----
    const man = { x: [], y: [] };
    if (ctx.view.manifold && f.manifold && f.shapes.manifold) {
      const m = f.shapes.manifold[0];
      const at = (i, j, c) => f.manifold[(i * m + j) * 2 + c];
      for (let i = 0; i < m; i++) { for (let j = 0; j < m; j++) { man.x.push(at(i, j, 0)); man.y.push(at(i, j, 1)); } man.x.push(null); man.y.push(null); }
      for (let j = 0; j < m; j++) { for (let i = 0; i < m; i++) { man.x.push(at(i, j, 0)); man.y.push(at(i, j, 1)); } man.x.push(null); man.y.push(null); }
    }
    out[T.manifold] = { type: "scatter", mode: "lines", x: man.x, y: man.y, hoverinfo: "skip", line: { color: C.manifold, width: ctx.lecture ? 1.8 : 1 }, visible: !!ctx.view.manifold };

    // ---- trails: each fake's earlier positions (server sends (k, samples, 2), oldest first) ----
    const tr = { x: [], y: [] };
    if (ctx.view.trails && f.trails && f.shapes.trails && f.fake) {
      const [k, n] = f.shapes.trails;
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < k; t++) { tr.x.push(f.trails[(t * n + i) * 2]); tr.y.push(f.trails[(t * n + i) * 2 + 1]); }
        tr.x.push(f.fake[i * 2], null); tr.y.push(f.fake[i * 2 + 1], null);
      }
    }
    out[T.trails] = { type: "scatter", mode: "lines", x: tr.x, y: tr.y, hoverinfo: "skip", line: { color: C.trail, width: s.trail }, visible: !!ctx.view.trails };

    // ---- arrows: fakes' push (and the optional field) share one scale ----
    const fake = split(f.fake);
    const grad = split(f.fake_grad);
    const ref = ctx.shared ? ctx.shared.push : scale.update(quantileLength(grad.x, grad.y, 0.9));
    const k = (0.07 * span) / ref;   // a typical push is drawn as 7 % of the plot width
    const fieldArrows = { x: [], y: [] };
    if (ctx.view.field && f.field && f.shapes.field) {
      const m = f.shapes.field[0];
      const fs = span / m;
      const fx = [], fy = [], fu = [], fv = [];
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
        fx.push(lo + span * (j / (m - 1))); fy.push(lo + span * (i / (m - 1)));
        let uu = f.field[(i * m + j) * 2] * k, vv = f.field[(i * m + j) * 2 + 1] * k;
        const l = Math.hypot(uu, vv);
        if (l > 0.9 * fs) { uu *= (0.9 * fs) / l; vv *= (0.9 * fs) / l; }   // keep the field tidy
        fu.push(uu); fv.push(vv);
      }
      Object.assign(fieldArrows, arrowPath(fx, fy, fu, fv, { head: 0.35, maxHead: 0.03 * span, minLen: 1e-4 * span }));
    }
    out[T.field] = { type: "scatter", mode: "lines", x: fieldArrows.x, y: fieldArrows.y, hoverinfo: "skip", line: { color: C.field, width: s.fieldLine }, visible: !!ctx.view.field };

    // the real samples rarely change between frames: once they have been the same for two
    // frames they are drawn as one cached image above the traces (512 SVG markers per frame
    // are most of a frame's cost); the trace keeps the data and comes back for export
    const key = `${sampleKey(f.real)}|${ctx.lecture}|${lo}|${hi}`;
    const fl = div._fullLayout;
    const dpr = Math.max(1, window.devicePixelRatio || 1);
    const sizeNow = fl && fl.xaxis ? `${Math.round(fl.xaxis._length * dpr)}x${Math.round(fl.yaxis._length * dpr)}` : "";
    const useSprite = !!(sprite && sprite.key === `${key}|${sizeNow}`);
    realKeyNow = key;
    out[T.real] = {
      type: "scatter", mode: "markers", name: "real", ...split(f.real), hoverinfo: "skip", visible: !useSprite,
      marker: { color: C.real, size: s.marker, line: { color: C.realLine, width: s.markerLine }, opacity: 0.95 },
    };
    spriteOn = useSprite;
    out[T.fake] = {
      type: "scatter", mode: "markers", name: "fake", x: fake.x, y: fake.y, hoverinfo: "skip",
      marker: { color: C.fake, size: s.marker, line: { color: C.fakeLine, width: s.markerLine }, opacity: 0.95 },
    };
    // the averaged generator (g_ema > 0): the same latent batch through G's moving average
    const ema = f.fake_ema ? split(f.fake_ema) : { x: [], y: [] };
    out[T.fakeEma] = {
      type: "scatter", mode: "markers", name: "averaged G (EMA)", x: ema.x, y: ema.y, hoverinfo: "skip", visible: ema.x.length > 0,
      marker: { symbol: "circle-open", color: C.fake, size: s.marker + 2, line: { width: s.markerLine + 1.5 } },
    };
    const arrows = ctx.view.arrows ? arrowPath(fake.x, fake.y, grad.x.map((v) => v * k), grad.y.map((v) => v * k), {
      head: 0.32, maxHead: 0.035 * span, minLen: 0.004 * span,
    }) : { x: [], y: [] };
    out[T.arrows] = { type: "scatter", mode: "lines", name: "push on fakes", x: arrows.x, y: arrows.y, hoverinfo: "skip", line: { color: C.arrow, width: s.arrow, simplify: false }, visible: ctx.view.arrows !== false };

    ghostTraces(f, ctx, out, fake, g, lo, span, u);

    const pts = drawing ? drawing.points : [];
    out[T.drawn] = {
      type: "scatter", mode: "markers", name: "your points", x: pts.map((p) => p[0]), y: pts.map((p) => p[1]), hoverinfo: "skip",
      marker: { color: "#ffffff", size: s.marker + 5, symbol: "circle", line: { color: C.real, width: 3 } }, visible: !!drawing,
    };
    return { data: out, lo, hi, pushMedian: quantileLength(grad.x, grad.y, 0.5) };
  }

  /** After a step while paused: where the fakes were (faded) and D's white line before/after. */
  function ghostTraces(f, ctx, out, fake, g, lo, span, u) {
    const s = sizes(ctx.lecture);
    const gh = f.ghost;
    const gx = [], gy = [], lx = [], ly = [];
    let moved = 0;
    if (gh && gh.fake && f.fake && gh.fake.length === f.fake.length) {
      for (let i = 0; i + 1 < f.fake.length; i += 2) {
        const x0 = gh.fake[i], y0 = gh.fake[i + 1], x1 = f.fake[i], y1 = f.fake[i + 1];
        moved = Math.max(moved, Math.hypot(x1 - x0, y1 - y0) || 0);
        gx.push(x0); gy.push(y0);
        lx.push(x0, x1, null); ly.push(y0, y1, null);
      }
    }
    const show = moved > 1e-4 * span;   // a D step moves no fake: nothing to show
    out[T.ghostLinks] = {
      type: "scatter", mode: "lines", name: "moved by the step", x: show ? lx : [], y: show ? ly : [], hoverinfo: "skip",
      line: { color: "rgba(91, 15, 134, 0.55)", width: ctx.lecture ? 1.6 : 1 }, visible: show,
    };
    out[T.ghost] = {
      type: "scatter", mode: "markers", name: "before the step", x: show ? gx : [], y: show ? gy : [], hoverinfo: "skip",
      marker: { color: "rgba(255,255,255,0.35)", size: s.marker, line: { color: "rgba(91, 15, 134, 0.5)", width: s.markerLine + 0.6 } }, visible: show,
    };
    // D's undecided level before and after the step (most telling after a D step)
    const gg = gh && gh.d_grid && gh.shapes?.d_grid ? gh.shapes.d_grid[0] : 0;
    const boundary = (grid, n, level, dash, color) => {
      if (!grid || !n) return { type: "scatter", mode: "lines", x: [], y: [], hoverinfo: "skip", visible: false };
      const axisPts = Array.from({ length: n }, (_, i) => lo + (span * i) / (n - 1));
      const z = [];
      for (let i = 0; i < n; i++) z.push(Array.from(grid.subarray(i * n, (i + 1) * n)));
      return {
        type: "contour", x: axisPts, y: axisPts, z, showscale: false, hoverinfo: "skip",
        autocontour: false, contours: { coloring: "none", start: level, end: level, size: 1, showlabels: false },
        line: { color, width: ctx.lecture ? 3.5 : 2.2, dash, smoothing: 1 },
      };
    };
    const onBoundary = !!gg && gg === g && f.part !== "g";   // a G step leaves D as it was
    out[T.boundaryBefore] = onBoundary ? boundary(gh.d_grid, gg, Number.isFinite(gh.undecided) ? gh.undecided : u, "dot", "rgba(40,40,40,0.55)") : boundary(null);
    out[T.boundaryAfter] = onBoundary ? boundary(f.d_grid, g, u, "solid", "rgba(20,20,20,0.85)") : boundary(null);
    ghostInfo = gh ? { moved: show, boundary: onBoundary, part: f.part } : null;
  }

  function notesFor(ctx, pushMedian) {
    const s = sizes(ctx.lecture);
    const notes = [];
    if (ctx.view.arrows !== false) {
      notes.push({
        xref: "paper", yref: "paper", x: 0, y: 1.0, xanchor: "left", yanchor: "bottom", showarrow: false,
        text: `<span style="color:${C.arrow}">━➤</span> push on each fake sample (−∂L<sub>G</sub>/∂x), ${pushLabel(pushMedian)}`,
        font: { size: s.tick }, yshift: 4,
      });
    }
    return notes;
  }

  function layout(f, ctx, lo, hi) {
    const s = sizes(ctx.lecture);
    const pad = 0.0;
    return {
      ...baseLayout(ctx.lecture),
      // lanes side by side keep the colour bar's room in every panel (one bar a row): the same
      // plot size in each, as small multiples should be
      margin: { l: ctx.lecture ? 70 : 55, r: ctx.lecture ? 150 : 120, t: ctx.lecture ? 44 : 34, b: ctx.lecture ? 56 : 44 },
      xaxis: axis(ctx.lecture, { range: [lo - pad, hi + pad], constrain: "domain", zeroline: false, showgrid: false, title: { text: "x₁", font: { size: s.title } } }),
      yaxis: axis(ctx.lecture, { range: [lo - pad, hi + pad], scaleanchor: "x", scaleratio: 1, constrain: "domain", zeroline: false, showgrid: false, title: { text: "x₂", font: { size: s.title } } }),
      annotations: [],
      images: [
        ...(image ? [{ source: image, xref: "x", yref: "y", x: lo, y: hi, sizex: hi - lo, sizey: hi - lo, sizing: "stretch", layer: "below", xanchor: "left", yanchor: "top" }] : []),
        ...(spriteOn ? [{ source: sprite.url, xref: "x", yref: "y", x: lo, y: hi, sizex: hi - lo, sizey: hi - lo, sizing: "stretch", layer: "above", xanchor: "left", yanchor: "top" }] : []),
      ],
      // new on every render: a redraw of the same frame (new options, a lane's new title) must
      // recompute, or Plotly keeps stale contour data for the new trace objects and throws
      datarevision: ++renders,
    };
  }

  function render(f, ctx) {
    lastFrame = f; lastCtx = ctx;
    const { data, lo, hi, pushMedian } = traces(f, ctx);
    lastFigure = { data, layout: layout(f, ctx, lo, hi), pushMedian };
    Plotly.react(div, data, lastFigure.layout, PLOT_CONFIG);
    if (!plotted) { plotted = true; attachDrawing(); }
    drawOverlay(ctx, pushMedian);
    // same real samples as last frame: paint them once for the next frames
    if (!spriteOn && f.real && realKeyNow === lastRealKey) makeSprite(f, ctx, lo, hi);
    lastRealKey = realKeyNow;
  }

  function makeSprite(f, ctx, lo, hi) {
    const fl = div._fullLayout;
    if (!fl || !fl.xaxis) return;
    const dpr = Math.max(1, window.devicePixelRatio || 1);
    const W = Math.round(fl.xaxis._length * dpr), H = Math.round(fl.yaxis._length * dpr);
    if (W < 10 || H < 10) return;
    const s = sizes(ctx.lecture);
    const cv = document.createElement("canvas");
    cv.width = W; cv.height = H;
    const c2 = cv.getContext("2d");
    const r = (s.marker / 2) * dpr, span = hi - lo;
    c2.globalAlpha = 0.95;
    c2.fillStyle = C.real;
    c2.strokeStyle = C.realLine;
    c2.lineWidth = s.markerLine * dpr;
    for (let i = 0; i + 1 < f.real.length; i += 2) {
      const x = ((f.real[i] - lo) / span) * W, y = ((hi - f.real[i + 1]) / span) * H;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      c2.beginPath();
      c2.arc(x, y, r, 0, 2 * Math.PI);
      c2.fill();
      c2.stroke();
    }
    const size = `${W}x${H}`;
    sprite = { key: `${realKeyNow}|${size}`, size, url: cv.toDataURL("image/png") };
  }



  // ---------- HTML colour bar and arrow note, placed beside the plot area ----------
  let ov = null;
  function drawOverlay(ctx, pushMedian) {
    if (!ov) {
      ov = document.createElement("div");
      ov.className = "ov2d";
      ov.innerHTML = `<div class="ov-note"></div><div class="ov-ghost"></div><div class="cbar"><div class="cbar-grad"></div><div class="cbar-ticks"></div><div class="cbar-title"></div></div>`;
      div.after(ov);
    }
    const fl = div._fullLayout;
    if (!fl || !fl.xaxis || !bar) return;
    const x0 = fl.xaxis._offset, w = fl.xaxis._length, y0 = fl.yaxis._offset, h = fl.yaxis._length;
    const note = ov.querySelector(".ov-note");
    note.style.left = `${div.offsetLeft + x0}px`;
    note.style.top = `${div.offsetTop + y0}px`;
    note.hidden = ctx.view.arrows === false;
    note.innerHTML = ctx.compact
      ? `<b style="color:${C.arrow}">━➤</b> push on fakes, median ≈ ${fmt(pushMedian, 2)}`
      : `<b style="color:${C.arrow}">━➤</b> push on each fake sample (−∂L<sub>G</sub>/∂x), ${pushLabel(pushMedian)}`;
    const gn = ov.querySelector(".ov-ghost");
    const parts = [];
    if (ghostInfo?.moved) parts.push(`<span class="gh-dot"></span> faded: the fakes before this step`);
    if (ghostInfo?.boundary) parts.push(`<span class="gh-line dotted"></span> D's white line before, <span class="gh-line"></span> after`);
    gn.hidden = !parts.length;
    gn.innerHTML = parts.join("<br>");
    gn.style.left = `${div.offsetLeft + x0 + 8}px`;
    gn.style.top = `${div.offsetTop + y0 + h - 8}px`;
    const cb = ov.querySelector(".cbar");
    cb.hidden = ctx.colorbar === false;
    cb.classList.toggle("prob", !!bar.prob || !!ctx.relative);   // wider tick labels ("0.5 unsure", "0 white"): title further out
    cb.style.left = `${div.offsetLeft + x0 + w + 18}px`;
    cb.style.top = `${div.offsetTop + y0}px`;
    cb.style.height = `${h}px`;
    const stops = rescale(DIVERGING, bar.fu).map(([p, c]) => `${c} ${(p * 100).toFixed(2)}%`).join(", ");
    cb.querySelector(".cbar-grad").style.background = `linear-gradient(to top, ${stops})`;
    // lanes whose white levels differ share one bar: its ticks are D(x) minus each panel's white
    const sign = (t) => (t > 0 ? `+${fmt(t, 3)}` : t < 0 ? `−${fmt(-t, 3)}` : "0 white");
    const ticks = bar.prob
      ? [[0, "0 fake"], [0.25, "0.25"], [0.5, "0.5 unsure"], [0.75, "0.75"], [1, "1 real"]]
      : ctx.relative ? niceTicks(bar.zmin - bar.u, bar.zmax - bar.u).map((t) => [t + bar.u, sign(t)])
      : niceTicks(bar.zmin, bar.zmax).map((t) => [t, fmt(t, 3)]);
    cb.querySelector(".cbar-ticks").innerHTML = ticks.map(([t, label]) => {
      const p = ((t - bar.zmin) / (bar.zmax - bar.zmin)) * 100;
      return `<span style="bottom:${p.toFixed(2)}%">${label}</span>`;
    }).join("");
    cb.querySelector(".cbar-title").innerHTML = ctx.relative && !bar.prob
      ? "critic score D(x) − its panel's white" : bar.title;
  }

  /** The figure as a file should show it: with a Plotly colour bar and the arrow note. */
  function exportFigure() {
    if (!lastFigure) return null;
    const data = lastFigure.data.slice();
    if (colorbarTrace) data[T.heat] = colorbarTrace;
    data[T.real] = { ...data[T.real], visible: true };   // vector markers in the file
    const images = (lastFigure.layout.images || []).filter((im) => !sprite || im.source !== sprite.url);
    const layout = { ...lastFigure.layout, images, margin: { ...lastFigure.layout.margin, r: 40 }, annotations: notesFor(lastCtx, lastFigure.pushMedian) };
    return { data, layout };
  }

  // ---------- drawing your own target ----------
  function toData(ev) {
    const fl = div._fullLayout;
    if (!fl || !fl.xaxis) return null;
    const r = div.querySelector(".nsewdrag")?.getBoundingClientRect() || div.getBoundingClientRect();
    const xa = fl.xaxis, ya = fl.yaxis;
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    if (px < 0 || py < 0 || px > r.width || py > r.height) return null;
    const x = xa.p2d(px), y = ya.p2d(py);
    return Number.isFinite(x) && Number.isFinite(y) ? [x, y] : null;
  }

  function attachDrawing() {
    const onDown = (ev) => {
      if (!drawing || ev.button !== 0) return;
      const p = toData(ev);
      if (!p) return;
      ev.preventDefault();
      dragging = true;
      addPoint(p, true);
    };
    const onMove = (ev) => {
      if (!drawing || !dragging) return;
      const p = toData(ev);
      if (p) addPoint(p, false);
    };
    const onUp = () => {
      if (!drawing || !dragging) return;
      dragging = false;
      drawing.onChange(drawing.points.slice());
    };
    div.addEventListener("pointerdown", onDown);
    window.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);
  }

  function addPoint(p, force) {
    const pts = drawing.points;
    const last = pts[pts.length - 1];
    const [lo, hi] = lastFrame?.extent || [-2, 2];
    const minGap = 0.03 * (hi - lo);
    if (!force && last && Math.hypot(p[0] - last[0], p[1] - last[1]) < minGap) return;
    if (pts.length >= 500) return;
    pts.push([+p[0].toFixed(3), +p[1].toFixed(3)]);
    if (lastFrame) render(lastFrame, lastCtx);
  }

  return {
    div,
    render,
    /** Start (points = current list) or stop (null) drawing; onChange(points) after each stroke. */
    setDrawing(points, onChange) {
      drawing = points ? { points: points.map((p) => p.slice()), onChange } : null;
      div.classList.toggle("drawing", !!drawing);
      if (lastFrame) render(lastFrame, lastCtx);
    },
    get drawingPoints() { return drawing ? drawing.points : null; },
    resetScale() { scale.reset(); lowR = 0; highR = 0; },
    exportFigure,
    traceIndex: T,
  };
}
