// The 2D view: D as a heatmap (probability or raw score, diverging around `undecided`),
// optional contours, real and fake samples (those outside the plot marked at its edge), the
// generator's push on each fake as arrows (at most MAX_ARROWS of them), optional push field
// on a grid, trails and the generator manifold (its latent grid coloured by coordinate);
// what is under the pointer (hover2d.js). Also the drawing surface for the "points" target.
//
// Drawing: Plotly draws the axes, contours and D's white lines; the D surface is a small
// canvas stretched under the plot area and the scatter layers (samples, arrows, field,
// trails, manifold) are painted on a canvas over it (paint.js, plotLayer.js) from the same
// trace objects an export hands to Plotly. A new frame therefore costs no Plotly redraw unless
// the axes or the contours change.

import { C, DIVERGING, sizes, baseLayout, axis, PLOT_CONFIG, arrowPath, quantileLength, ArrowScale, fmt, pushLabel } from "./theme.js";
import { dSpread, niceTicks } from "./scales.js";
import { paintTraces } from "./paint.js";
import { createPlotLayer, nearestPoint } from "./plotLayer.js";
import { surfaceLines, fakeLines } from "./hover2d.js";

// ghost*: the fakes before the last step while paused (faded), thin lines to where they went,
// and D's decision line (white level) before and after a D step. outside: samples beyond the
// plotted range, marked at its edge. manifold: the first of its lines (one trace each).
const T = { heat: 0, contour: 1, outside: 2, trails: 3, field: 4, fake: 5, arrows: 6, real: 7, drawn: 8, ghostLinks: 9, ghost: 10, boundaryBefore: 11, boundaryAfter: 12, fakeEma: 13, manifold: 14 };
// what Plotly draws live; every other layer is painted
const PLOTLY_LIVE = [T.heat, T.contour, T.boundaryBefore, T.boundaryAfter];
// the painted layers from bottom to top
const PAINT_ORDER = [T.trails, T.field, T.fake, T.fakeEma, T.arrows, T.real, T.ghostLinks, T.ghost, T.outside, T.drawn];
/** 2 -> "2nd", 3 -> "3rd", 4 -> "4th", 11 -> "11th", 21 -> "21st". */
const ordinal = (n) => `${n}${[11, 12, 13].includes(n % 100) ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th"}`;

/** At most this many push arrows are drawn (every k-th fake beyond it; the label says so). */
export const MAX_ARROWS = 256;
/** The manifold's two families of lines, coloured from light to dark along their latent coordinate. */
const MANIFOLD_RAMPS = { z1: ["#9ecae1", "#08306b"], z2: ["#f6c88f", "#7f2704"] };

/** [min, max] of the finite values of a. */
function finiteRange(a) {
  let lo = Infinity, hi = -Infinity;
  for (const v of a) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
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

const empty = () => ({ type: "scatter", mode: "lines", x: [], y: [], hoverinfo: "skip", visible: false });
const mix = ([a, b], t) => {
  const rgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const A = rgb(a), B = rgb(b);
  return `rgb(${A.map((v, i) => Math.round(v + (B[i] - v) * t)).join(",")})`;
};
const count = (n) => n.toLocaleString("en-US");

/** The samples of `arr` outside [lo, hi]², each moved onto the border it crossed, with a
 * triangle pointing out of the plot there. */
function outsideMarks(arr, lo, hi, color, out) {
  for (let i = 0; arr && i + 1 < arr.length; i += 2) {
    const x = arr[i], y = arr[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const ex = x < lo ? lo - x : x > hi ? x - hi : 0, ey = y < lo ? lo - y : y > hi ? y - hi : 0;
    if (!ex && !ey) continue;
    out.x.push(Math.min(hi, Math.max(lo, x)));
    out.y.push(Math.min(hi, Math.max(lo, y)));
    out.symbol.push(ex >= ey ? (x < lo ? "triangle-left" : "triangle-right") : (y < lo ? "triangle-down" : "triangle-up"));
    out.color.push(color);
  }
}

/** "3 fakes and 1 real sample" outside the plot, or "" (meta of the outside layer). */
const outsideWords = ({ real, fake }) => [real && `${count(real)} real sample${real > 1 ? "s" : ""}`, fake && `${count(fake)} fake${fake > 1 ? "s" : ""}`].filter(Boolean).join(" and ");
/** How far the manifold's latent grid reaches: [−2, 2] for Gaussian noise, [−1, 1] uniform (probes.manifold). */
const latentReach = (ctx) => (ctx.noise === "uniform" ? 1 : 2);

/** The manifold as one line per latent grid line: z₁ constant (columns) and z₂ constant (rows),
 * each coloured by its coordinate. manifold[(i * m + j)] = G(z₁ = a[j], z₂ = a[i]). */
function manifoldTraces(f, width, on) {
  if (!on || !f.manifold || !f.shapes?.manifold) return [];
  const m = f.shapes.manifold[0];
  const at = (i, j, c) => f.manifold[(i * m + j) * 2 + c];
  const line = (pts, color) => ({ type: "scatter", mode: "lines", x: pts.map(([i, j]) => at(i, j, 0)), y: pts.map(([i, j]) => at(i, j, 1)), hoverinfo: "skip", line: { color, width } });
  const idx = Array.from({ length: m }, (_, k) => k);
  return [
    ...idx.map((j) => line(idx.map((i) => [i, j]), mix(MANIFOLD_RAMPS.z1, j / (m - 1)))),
    ...idx.map((i) => line(idx.map((j) => [i, j]), mix(MANIFOLD_RAMPS.z2, i / (m - 1)))),
  ];
}

export function createView2d(div) {
  const scale = new ArrowScale(0.05);
  let lowR = 0, highR = 0; // colour range below / above `undecided` for raw scores, smoothed
  let bar = null;          // colour bar: {zmin, zmax, fu, prob, title}
  let colorbarTrace = null;
  let lastFigure = null;   // {data: every layer (T), layout, pushMedian, notes}
  let plotKey = "";        // what the Plotly part was last drawn for
  const lut = makeLut(DIVERGING);
  // the D surface: one pixel per grid point, stretched by CSS (the browser smooths it)
  const heat = document.createElement("canvas");
  heat.className = "d-surface";
  heat.style.cssText = "position:absolute;pointer-events:none;";
  // the painted layers over the axes, the notes, colour bar and hover text over everything
  const plot = createPlotLayer(div, {
    canvasClass: "layers2d", overlayClass: "ov2d", under: heat,
    overlayHtml: `<div class="ov-note"></div><div class="ov-ghost"></div><div class="ov-edge"></div><div class="ov-manifold"></div><div class="cbar"><div class="cbar-grad"></div><div class="cbar-ticks"></div><div class="cbar-title"></div></div>`,
  });
  const ov = plot.ov, put = plot.put;
  // the edge and manifold keys sit in the plot's bottom-right and top-right corners
  const corner = { position: "absolute", fontSize: "var(--fs-small, 12px)", transform: "translateX(-100%)", width: "max-content", background: "rgba(255,255,255,0.85)", padding: "1px 5px", borderRadius: "3px" };
  Object.assign(ov.querySelector(".ov-edge").style, corner, { transform: "translate(-100%, -100%)" });
  Object.assign(ov.querySelector(".ov-manifold").style, corner);
  div.style.background = "#ffffff";

  /** D on the grid -> the heat canvas, white at u, purple below, green above (row 0 = top = y max). */
  function paint(grid, g, zmin, zmax, u) {
    if (heat.width !== g) { heat.width = g; heat.height = g; }
    const c2 = heat.getContext("2d");
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
  }
  let renders = 0;         // datarevision of each Plotly.react
  let ghostInfo = null;    // what the faded "before the step" layer shows, for the caption
  let drawing = null;      // {points: [[x, y]], onChange} while the "points" target is being drawn
  let lastFrame = null;
  let lastCtx = null;
  let plotted = false;
  let dragging = false;
  let pointer = null;      // {px, py}: the pointer over the plot area, in CSS pixels

  function split(arr, dim = 2, stride = 1) {
    const n = arr ? Math.ceil(arr.length / dim / stride) : 0;
    const x = new Array(n), y = new Array(n);
    for (let i = 0; i < n; i++) { x[i] = arr[i * stride * dim]; y[i] = arr[i * stride * dim + 1]; }
    return { x, y };
  }

  function traces(f, ctx) {
    const s = sizes(ctx.lecture);
    const v = ctx.view;
    const [lo, hi] = f.extent || [-2, 2];
    const span = hi - lo;
    const out = [];

    // ---- D on the grid: painted into the heat canvas laid under the axes ----
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
    const surface = !!g && v.d !== false;
    if (surface) paint(f.d_grid, g, zmin, zmax, u);
    const cbTitle = f.display === "probability" ? "D(x) = P(real)" : `critic score D(x)<br><span style="font-size:0.9em">${centreNote}</span>`;
    const prob = f.display === "probability";
    bar = surface ? { zmin, zmax, fu, prob, title: cbTitle, u } : null;
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
    out[T.heat] = { type: "scatter", mode: "markers", x: [], y: [], hoverinfo: "skip", meta: { colorRange: [zmin, zmax], undecided: u, lane: f.lane ?? null, surface } };
    const axisPts = g && v.contours ? Array.from({ length: g }, (_, i) => lo + (span * i) / (g - 1)) : [];
    const z = [];
    if (v.contours) for (let i = 0; i < g; i++) z.push(Array.from(f.d_grid.subarray(i * g, (i + 1) * g)));
    // the levels: round numbers over this frame's D (Plotly's own levels stay those of the
    // first frame it contoured, however far D moves)
    const levels = v.contours && g ? niceTicks(...finiteRange(f.d_grid), 7) : [];
    out[T.contour] = levels.length > 1 ? {
      type: "contour", x: axisPts, y: axisPts, z, showscale: false, hoverinfo: "skip", autocontour: false,
      contours: { coloring: "none", showlabels: true, labelfont: { size: s.tick - 1, color: "#222" }, start: levels[0], end: levels[levels.length - 1], size: levels[1] - levels[0] },
      line: { color: "rgba(30,30,30,0.6)", width: ctx.lecture ? 2 : 1 },
    } : empty();

    // ---- trails: each fake's earlier positions (server sends (k, samples, 2), oldest first) ----
    const tr = { x: [], y: [] };
    if (v.trails && f.trails && f.shapes.trails && f.fake) {
      const [k, n] = f.shapes.trails;
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < k; t++) { tr.x.push(f.trails[(t * n + i) * 2]); tr.y.push(f.trails[(t * n + i) * 2 + 1]); }
        tr.x.push(f.fake[i * 2], null); tr.y.push(f.fake[i * 2 + 1], null);
      }
    }
    out[T.trails] = { type: "scatter", mode: "lines", x: tr.x, y: tr.y, hoverinfo: "skip", line: { color: C.trail, width: s.trail }, visible: !!v.trails };

    // ---- arrows: fakes' push (and the optional field) share one scale ----
    const fake = split(f.fake);
    const n = fake.x.length;
    const stride = Math.max(1, Math.ceil(n / MAX_ARROWS));
    const tails = split(f.fake, 2, stride);
    const grad = split(f.fake_grad, 2, stride);
    const ref = ctx.shared ? ctx.shared.push : scale.update(quantileLength(grad.x, grad.y, 0.9));
    const k = (0.07 * span) / ref;   // a typical push is drawn as 7 % of the plot width
    const fieldArrows = { x: [], y: [] };
    if (v.field && f.field && f.shapes.field) {
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
    out[T.field] = { type: "scatter", mode: "lines", x: fieldArrows.x, y: fieldArrows.y, hoverinfo: "skip", line: { color: C.field, width: s.fieldLine }, visible: !!v.field };

    const realOn = v.real !== false, fakeOn = v.fake !== false;
    out[T.real] = {
      type: "scatter", mode: "markers", name: "real", ...split(f.real), hoverinfo: "skip", visible: realOn,
      marker: { color: C.real, size: s.marker, line: { color: C.realLine, width: s.markerLine }, opacity: 0.95 },
    };
    out[T.fake] = {
      type: "scatter", mode: "markers", name: "fake", x: fake.x, y: fake.y, hoverinfo: "skip", visible: fakeOn,
      marker: { color: C.fake, size: s.marker, line: { color: C.fakeLine, width: s.markerLine }, opacity: 0.95 },
    };
    // the averaged generator (g_ema > 0): the same latent batch through G's moving average
    const ema = f.fake_ema ? split(f.fake_ema) : { x: [], y: [] };
    out[T.fakeEma] = {
      type: "scatter", mode: "markers", name: "averaged G (EMA)", x: ema.x, y: ema.y, hoverinfo: "skip", visible: fakeOn && ema.x.length > 0,
      marker: { symbol: "circle-open", color: C.fake, size: s.marker + 2, line: { width: s.markerLine + 1.5 } },
    };
    // samples beyond the plotted range: a triangle on the border, pointing where they went
    const edge = { x: [], y: [], symbol: [], color: [] };
    if (realOn) outsideMarks(f.real, lo, hi, C.real, edge);
    const realOut = edge.x.length;
    if (fakeOn) outsideMarks(f.fake, lo, hi, C.fake, edge);
    out[T.outside] = {
      type: "scatter", mode: "markers", name: "outside the plot", x: edge.x, y: edge.y, hoverinfo: "skip", cliponaxis: false,
      marker: { symbol: edge.symbol, color: edge.color, size: s.marker + 2, line: { color: "#ffffff", width: s.markerLine } },
      meta: { real: realOut, fake: edge.x.length - realOut },
    };
    const arrowsOn = v.arrows !== false;
    const arrows = arrowsOn ? arrowPath(tails.x, tails.y, grad.x.map((q) => q * k), grad.y.map((q) => q * k), {
      head: 0.32, maxHead: 0.035 * span, minLen: 0.004 * span,
    }) : { x: [], y: [] };
    out[T.arrows] = {
      type: "scatter", mode: "lines", name: "push on fakes", x: arrows.x, y: arrows.y, hoverinfo: "skip", line: { color: C.arrow, width: s.arrow, simplify: false }, visible: arrowsOn,
      meta: { shown: tails.x.length, of: n, every: stride },
    };

    ghostTraces(f, ctx, out, fake, g, lo, span, u);

    const pts = drawing ? drawing.points : [];
    out[T.drawn] = {
      type: "scatter", mode: "markers", name: "your points", x: pts.map((p) => p[0]), y: pts.map((p) => p[1]), hoverinfo: "skip",
      marker: { color: "#ffffff", size: s.marker + 5, symbol: "circle", line: { color: C.real, width: 3 } }, visible: !!drawing,
    };
    out.push(...manifoldTraces(f, ctx.lecture ? 1.8 : 1.1, !!v.manifold));
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

  /** The arrow note: what an arrow is, its scale's statistic and, past MAX_ARROWS, how many are drawn. */
  function arrowNote(ctx, pushMedian, meta) {
    const some = meta && meta.every > 1 ? `${count(meta.shown)} of ${count(meta.of)} shown (every ${ordinal(meta.every)} fake)` : "";
    // a lane panel: the short form, so the note stays on one line under the panel's head
    const drawn = meta && meta.every > 1 ? ` (${count(meta.shown)} of ${count(meta.of)})` : "";
    if (ctx.compact) return `<b style="color:${C.arrow}">━➤</b> push on fakes${drawn}, median ≈ ${fmt(pushMedian, 2)}`;
    return `<b style="color:${C.arrow}">━➤</b> push on ${some ? `the fakes, ${some}` : "each fake sample"} (−∂L<sub>G</sub>/∂x), ${pushLabel(pushMedian)}`;
  }

  /** The notes of an exported figure: the arrows' (above the plot), the samples outside it
   * and the manifold's key (in its corners), as the page shows them. */
  function notesFor(ctx, pushMedian) {
    const s = sizes(ctx.lecture);
    const { data } = lastFigure;
    const note = (text, x, y, xanchor, yanchor, extra = {}) => ({ xref: "paper", yref: "paper", x, y, xanchor, yanchor, showarrow: false, text, font: { size: s.tick }, bgcolor: "rgba(255,255,255,0.85)", ...extra });
    const out = [];
    if (ctx.view.arrows !== false) out.push(note(arrowNote(ctx, pushMedian, data[T.arrows].meta), 0, 1, "left", "bottom", { yshift: 4, bgcolor: undefined }));
    const said = outsideWords(data[T.outside].meta);
    if (said) out.push(note(`▸ ${said} outside the plot, marked at its edge`, 1, 0, "right", "bottom"));
    if (data.length > T.manifold) {
      const zr = latentReach(ctx);
      out.push(note(`manifold G(z₁, z₂, 0…), z from −${zr} (light) to ${zr} (dark):<br><span style="color:${MANIFOLD_RAMPS.z1[1]}">━</span> z₁ = const, <span style="color:${MANIFOLD_RAMPS.z2[1]}">━</span> z₂ = const`, 1, 1, "right", "top"));
    }
    return out;
  }

  function layout(ctx, lo, hi) {
    const s = sizes(ctx.lecture);
    return {
      ...baseLayout(ctx.lecture),
      // the canvases under and over the plot show through (export puts the white back)
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      hovermode: false,   // the hover text is ours (hover2d.js)
      // lanes side by side keep the colour bar's room in every panel (one bar a row): the same
      // plot size in each, as small multiples should be
      margin: { l: ctx.lecture ? 70 : 55, r: ctx.lecture ? 150 : 120, t: ctx.lecture ? 44 : 34, b: ctx.lecture ? 56 : 44 },
      xaxis: axis(ctx.lecture, { range: [lo, hi], constrain: "domain", zeroline: false, showgrid: false, title: { text: "x₁", font: { size: s.title } } }),
      yaxis: axis(ctx.lecture, { range: [lo, hi], scaleanchor: "x", scaleratio: 1, constrain: "domain", zeroline: false, showgrid: false, title: { text: "x₂", font: { size: s.title } } }),
      annotations: [],
      // new on every Plotly render: a redraw of the same frame (new options, a lane's new
      // title) must recompute, or Plotly keeps stale contour data for the new trace objects
      datarevision: ++renders,
    };
  }

  function render(f, ctx) {
    lastFrame = f; lastCtx = ctx;
    const { data, lo, hi, pushMedian } = traces(f, ctx);
    // Plotly only when what it draws changed: the axes, the contours, D's white lines
    const contoured = PLOTLY_LIVE.some((i) => data[i].type === "contour");
    const key = JSON.stringify([lo, hi, ctx.lecture]);
    if (contoured || key !== plotKey) {
      plotKey = contoured ? "" : key;   // contours change with every frame (and must go when off)
      const live = data.slice(0, T.manifold).map((t, i) => (PLOTLY_LIVE.includes(i) ? t : empty()));
      Plotly.react(div, live, layout(ctx, lo, hi), PLOT_CONFIG);
      plot.invalidate();
    }
    lastFigure = { data, lo, hi, pushMedian };
    div.layers = data;   // for tests and readers of the page: every layer, as an export has them
    if (!plotted) { plotted = true; attachPointer(); div.on("plotly_afterplot", () => { plot.invalidate(); plot.place(); paintLayers(); }); }
    plot.place();
    paintLayers();
    drawOverlay(ctx, pushMedian);
    if (pointer) showHover();
  }

  function paintLayers() {
    if (!lastFigure) return;
    const { data, lo, hi } = lastFigure;
    heat.hidden = !data[T.heat].meta.surface;
    const { c: c2, dpr, pad, W, H } = plot.begin();
    const span = hi - lo;
    const toPx = (x, y) => [pad + ((x - lo) / span) * W, pad + ((hi - y) / span) * H];
    paintTraces(c2, [...data.slice(T.manifold), ...PAINT_ORDER.map((i) => data[i])], toPx, dpr, [pad, pad, W, H]);
  }

  // ---------- HTML colour bar, notes and hover text, placed beside the plot area ----------
  function drawOverlay(ctx, pushMedian) {
    const a = plot.area();
    if (!a) return;
    // ov lies on the plot's own box (place()): positions are the plot area's, no DOM reads
    const { x0, w, y0, h } = a;
    const { data } = lastFigure;
    const note = ov.querySelector(".ov-note");
    put(note, "left", `${x0}px`);
    put(note, "top", `${y0}px`);
    put(note, "hidden", ctx.view.arrows === false);
    // a narrow plot (a phone) gets the short note, wrapped within the plot's width
    put(note, "html", arrowNote(w < 480 ? { ...ctx, compact: true } : ctx, pushMedian, data[T.arrows].meta));
    put(note, "whiteSpace", w < 480 ? "normal" : "");
    put(note, "maxWidth", `${Math.round(w + 40)}px`);
    const gn = ov.querySelector(".ov-ghost");
    const parts = [];
    if (ghostInfo?.moved) parts.push(`<span class="gh-dot"></span> faded: the fakes before this step`);
    if (ghostInfo?.boundary) parts.push(`<span class="gh-line dotted"></span> D's white line before, <span class="gh-line"></span> after`);
    put(gn, "hidden", !parts.length);
    put(gn, "html", parts.join("<br>"));
    put(gn, "left", `${x0 + 8}px`);
    put(gn, "top", `${y0 + h - 8}px`);
    // samples beyond the plotted range: how many, in the plot's bottom-right corner
    const edge = ov.querySelector(".ov-edge");
    const { real, fake } = data[T.outside].meta;
    const said = outsideWords(data[T.outside].meta);
    put(edge, "hidden", !said);
    put(edge, "html", said ? `<b style="color:${fake ? C.fake : C.real}">▸</b> ${said} outside the plot, marked at its edge` : "");
    put(edge, "maxWidth", `${Math.round(w - 28)}px`);   // wraps on a narrow plot, inside it
    put(edge, "left", `${x0 + w - 14}px`);
    put(edge, "top", `${y0 + h - 14}px`);
    // the manifold's key: which lines are which latent coordinate, and its range
    const man = ov.querySelector(".ov-manifold");
    const zr = latentReach(ctx);
    const ramp = ([c0, c1]) => `<i style="display:inline-block;width:3.2em;height:0.6em;vertical-align:middle;background:linear-gradient(to right, ${c0}, ${c1})"></i>`;
    const onMan = data.length > T.manifold;
    put(man, "hidden", !onMan);
    put(man, "html", onMan ? `manifold G(z₁, z₂, 0…): lines of z₁ = const −${zr} ${ramp(MANIFOLD_RAMPS.z1)} ${zr}, of z₂ = const −${zr} ${ramp(MANIFOLD_RAMPS.z2)} ${zr}` : "");
    put(man, "maxWidth", `${Math.round(w - 28)}px`);
    put(man, "left", `${x0 + w - 14}px`);
    put(man, "top", `${y0 + 14}px`);
    const cb = ov.querySelector(".cbar");
    put(cb, "hidden", ctx.colorbar === false || !bar);
    if (!bar) return;
    cb.classList.toggle("prob", !!bar.prob || !!ctx.relative);   // wider tick labels ("0.5 unsure", "0 white"): title further out
    put(cb, "left", `${x0 + w + 18}px`);
    put(cb, "top", `${y0}px`);
    put(cb, "height", `${h}px`);
    const stops = rescale(DIVERGING, bar.fu).map(([p, c]) => `${c} ${(p * 100).toFixed(2)}%`).join(", ");
    put(cb.querySelector(".cbar-grad"), "background", `linear-gradient(to top, ${stops})`);
    // lanes whose white levels differ share one bar: its ticks are D(x) minus each panel's white
    const sign = (t) => (t > 0 ? `+${fmt(t, 3)}` : t < 0 ? `−${fmt(-t, 3)}` : "0 white");
    const ticks = bar.prob
      ? [[0, "0 fake"], [0.25, "0.25"], [0.5, "0.5 unsure"], [0.75, "0.75"], [1, "1 real"]]
      : ctx.relative ? niceTicks(bar.zmin - bar.u, bar.zmax - bar.u, 7).map((t) => [t + bar.u, sign(t)])
      : niceTicks(bar.zmin, bar.zmax, 7).map((t) => [t, fmt(t, 3)]);
    put(cb.querySelector(".cbar-ticks"), "html", ticks.map(([t, label]) => {
      const p = ((t - bar.zmin) / (bar.zmax - bar.zmin)) * 100;
      return `<span style="bottom:${p.toFixed(2)}%">${label}</span>`;
    }).join(""));
    put(cb.querySelector(".cbar-title"), "html", ctx.relative && !bar.prob
      ? "critic score D(x) − its panel's white" : bar.title);
  }

  /** The hover text at the pointer: the fake sample under it (ringed), else the D surface there. */
  function showHover() {
    const a = plot.area();
    if (!a || !lastFrame || !pointer) return;
    const f = lastFrame;
    const [lo, hi] = f.extent || [-2, 2];
    const span = hi - lo;
    const { px, py } = pointer;
    const toPx = (x, y) => [((x - lo) / span) * a.w, ((hi - y) / span) * a.h];
    // the fake layer holds every fake in order (hidden when the fakes are off)
    const i = f.fake_grad ? nearestPoint(lastFigure.data[T.fake], toPx, px, py) : -1;
    const x = lo + (px / a.w) * span, y = hi - (py / a.h) * span;
    const lines = i >= 0 ? fakeLines(f, i) : f.d_grid ? surfaceLines(f, x, y) : [];
    // the pointer in data units, unrounded, and what the text is about
    plot.showTip(lines.map((l) => l.replace(/L_G/g, "L<sub>G</sub>")), pointer, i >= 0 ? toPx(f.fake[2 * i], f.fake[2 * i + 1]) : null,
      { x: String(x), y: String(y), kind: i >= 0 ? "fake" : "surface", index: String(i) });
  }

  function hideHover() {
    pointer = null;
    plot.hideTip();
  }

  /** The figure as a file should show it: the D surface as an image, a Plotly colour bar, the
   * painted layers as vector traces (in the order they are painted) and the arrow note. */
  function exportFigure() {
    if (!lastFigure) return null;
    const { data: all, lo, hi } = lastFigure;
    const data = all.slice(0, T.manifold);
    if (colorbarTrace && bar) data[T.heat] = colorbarTrace;
    const ordered = [...PLOTLY_LIVE.map((i) => data[i]), ...all.slice(T.manifold), ...PAINT_ORDER.map((i) => data[i])];
    const base = layout(lastCtx, lo, hi);
    const images = bar ? [{ source: heat.toDataURL("image/png"), xref: "x", yref: "y", x: lo, y: hi, sizex: hi - lo, sizey: hi - lo, sizing: "stretch", layer: "below", xanchor: "left", yanchor: "top" }] : [];
    const white = baseLayout(lastCtx.lecture);
    return { data: ordered, layout: { ...base, paper_bgcolor: white.paper_bgcolor, plot_bgcolor: white.plot_bgcolor, images, margin: { ...base.margin, r: 40 }, annotations: notesFor(lastCtx, lastFigure.pushMedian) } };
  }

  // ---------- the pointer: hover text, and drawing your own target ----------
  function toData(ev) {
    const p = plot.point(ev), a = plot.area();
    if (!p || !lastFigure) return null;
    const { lo, hi } = lastFigure, span = hi - lo;
    return [lo + (p.px / a.w) * span, hi - (p.py / a.h) * span];
  }

  function attachPointer() {
    div.addEventListener("pointermove", (ev) => {
      const p = plot.point(ev);
      if (p && !drawing) { pointer = p; showHover(); } else hideHover();
    });
    div.addEventListener("pointerleave", hideHover);
    attachDrawing();
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
