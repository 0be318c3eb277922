// The 1D view: real density, fake density (KDE from the server), D(x) on its own axis,
// the optimal discriminator p_r / (p_r + p_g) dashed where it is known, and the push
// -dL_G/dx at the fake samples as arrows along the axis. Hover anywhere on the plot: x, D(x)
// and the push a fake would get there; on a fake: its push and |push| (hover1d.js). Samples
// beyond the plotted range are counted at the border. The layers follow the page's toggles
// (view.d, real, fake, arrows); the axes hold still and carry round ticks (scales.js).
//
// Drawing: Plotly draws the axes (and redraws them only when they change, redraw.js); the
// curves, samples and arrows are painted on a canvas over them (paint.js, plotLayer.js) from
// the same trace objects an export hands to Plotly (`div.layers`), and the notes are HTML.

import { C, sizes, baseLayout, axis, PLOT_CONFIG, ArrowScale, quantileLength, pushLabel, fmt } from "./theme.js";
import { HeldBound, niceTicks } from "./scales.js";
import { createRedraw } from "./redraw.js";
import { paintTraces } from "./paint.js";
import { createPlotLayer, nearestPoint, EDGE_PAD } from "./plotLayer.js";
import { lineLines, fakeLines } from "./hover1d.js";

// ghost*: after a step while paused, the fake density, D and the fakes before the step (faded);
// outside: the samples beyond the plotted range, a marker with a count on each border;
// note: the arrows' key (median push) above the plot
const T = { real: 0, fake: 1, undecided: 2, optimal: 3, d: 4, realRug: 5, fakeRug: 6, arrows: 7, ghostDensity: 8, ghostD: 9, ghostLinks: 10, ghostRug: 11, emaRug: 12, outside: 13, note: 14 };
// painted from bottom to top: the first axis' layers, then D's (Plotly draws an overlaying
// axis' traces over the first's); the arrows' key is HTML above the plot
const PAINT_ORDER = [T.real, T.fake, T.realRug, T.fakeRug, T.arrows, T.ghostDensity, T.ghostLinks, T.ghostRug, T.emaRug, T.outside, T.undecided, T.optimal, T.d, T.ghostD];
// what Plotly draws live: the axes, each with an empty trace so that Plotly lays it out
const AXES_ONLY = [
  { type: "scatter", mode: "lines", x: [], y: [], hoverinfo: "skip" },
  { type: "scatter", mode: "lines", x: [], y: [], yaxis: "y2", hoverinfo: "skip" },
];
const ARROWS_SHOWN = 24;
const D_WINDOW = { half: 1.25 };   // the D axis: ±1.25 of D's reach around white, recentred when D would leave it

/** A layer of the page's toggles (state.view: d, real, fake, arrows) is on unless set false. */
export const layerOn = (view, name) => !view || view[name] !== false;

/** The samples of `values` beyond [lo, hi]: how many on each side and the farthest. */
export function beyond(values, lo, hi) {
  let left = 0, right = 0, min = Infinity, max = -Infinity;
  for (const v of values) {
    if (v < lo) { left++; min = Math.min(min, v); } else if (v > hi) { right++; max = Math.max(max, v); }
  }
  return { left, right, min, max };
}

/** Border markers for samples beyond the range: one trace, a triangle pointing out and the
 * count beside it, at height y of each group. groups: [{values, y, color, what}]. Each group
 * has its two slots (left, right) in every frame, a slot without samples beyond having no
 * point (y null): the trace's styles stay the same while samples come and go, so that a frame
 * stays a data update (redraw.js), not a redraw of the plot. */
export function outsideTrace(groups, lo, hi, s) {
  const x = [], y = [], text = [], symbol = [], color = [], pos = [], hover = [];
  for (const g of groups) {
    const b = beyond(g.values, lo, hi);
    x.push(lo, hi);
    y.push(b.left ? g.y : null, b.right ? g.y : null);
    text.push(b.left ? String(b.left) : "", b.right ? String(b.right) : "");
    hover.push(b.left ? `${b.left} ${g.what} left of ${fmt(lo)} (the farthest at ${fmt(b.min)})` : "",
      b.right ? `${b.right} ${g.what} right of ${fmt(hi)} (the farthest at ${fmt(b.max)})` : "");
    symbol.push("triangle-left", "triangle-right");
    color.push(g.color, g.color);
    pos.push("middle right", "middle left");
  }
  return {
    type: "scatter", mode: "markers+text", name: "beyond the plotted range", showlegend: false, x, y, text, customdata: hover,
    textposition: pos, cliponaxis: false, hoverinfo: "skip", textfont: { size: s.tick, color: C.ink }, visible: groups.length > 0,
    marker: { symbol, color, size: s.marker + 5, line: { color: "#fff", width: 1 } },
  };
}

export function createView1d(div) {
  const scale = new ArrowScale(0.02);
  const redraw = createRedraw(div);
  const yHold = new HeldBound(), dHold = new HeldBound();
  let centre = null, lastHalf = 0;   // the D axis' centre (held) and half-width
  let last = null;                   // the last figure: its layers, axes' ranges, frame and context
  let plotted = false, painted = 0;
  let pointer = null;                // {px, py}: the pointer over the plot area, in CSS pixels
  const plot = createPlotLayer(div, { canvasClass: "layers1d", overlayClass: "ov1d", overlayHtml: `<div class="ov-note"></div><div class="ov-ghost ov-ghost-1d"></div>` });

  function render(f, ctx) {
    const s = sizes(ctx.lecture);
    const [lo, hi] = f.extent || [-4, 4];
    const span = hi - lo;
    const xs = f.xs ? Array.from(f.xs) : [];
    const rd = f.real_density ? Array.from(f.real_density) : null;
    const fd = f.fake_density ? Array.from(f.fake_density) : [];
    let m = 0;
    for (const v of fd) if (Number.isFinite(v)) m = Math.max(m, v);
    if (rd) for (const v of rd) if (Number.isFinite(v)) m = Math.max(m, v);
    // lanes side by side share the axes and the arrows' scale (scales.js); the axes hold still
    const ymax = ctx.shared ? ctx.shared.density : yHold.update(m);
    const top = ymax;
    const band = top * 0.42;   // room under the axis for samples and arrows
    const show = { d: layerOn(ctx.view, "d"), real: layerOn(ctx.view, "real"), fake: layerOn(ctx.view, "fake"), arrows: layerOn(ctx.view, "arrows") };

    const prob = f.display === "probability";
    const u = f.undecided ?? (prob ? 0.5 : 0);
    const dl = f.d_line ? Array.from(f.d_line) : [];
    let dr = [0, 1];
    let dRange = 0;
    if (!prob) {
      let dm = 0;
      for (const v of dl) if (Number.isFinite(v)) dm = Math.max(dm, Math.abs(v - u));
      dRange = ctx.shared ? ctx.shared.d : dHold.update(dm);
      const half = dRange * D_WINDOW.half;
      // the window holds while D's line stays inside it (white, `undecided`, the midpoint for
      // wgan, may wander within): a drifting critic moves the axis in rare jumps, not every frame
      let dlo = Infinity, dhi = -Infinity;
      for (const v of dl) if (Number.isFinite(v)) { dlo = Math.min(dlo, v); dhi = Math.max(dhi, v); }
      if (half !== lastHalf || !(dlo >= centre - half && dhi <= centre + half)) centre = u;
      lastHalf = half;
      dr = [centre - half, centre + half];
    }

    const data = [];
    data[T.real] = {
      type: "scatter", mode: "lines", name: "real density", x: xs, y: rd || [], fill: "tozeroy",
      fillcolor: "rgba(17, 122, 58, 0.22)", line: { color: C.real, width: s.line * 0.8 }, hoverinfo: "skip", visible: !!rd && show.real,
    };
    data[T.fake] = {
      type: "scatter", mode: "lines", name: "fake density", x: xs, y: fd, fill: "tozeroy",
      fillcolor: "rgba(122, 31, 162, 0.2)", line: { color: C.fake, width: s.line * 0.8 }, hoverinfo: "skip", visible: show.fake,
    };
    data[T.undecided] = {
      type: "scatter", mode: "lines", name: "undecided", showlegend: false, x: [lo, hi], y: [u, u], yaxis: "y2",
      line: { color: "#777", width: 1.5, dash: "dot" }, hoverinfo: "skip", visible: show.d,
    };
    const opt = f.d_optimal ? Array.from(f.d_optimal) : [];
    data[T.optimal] = {
      type: "scatter", mode: "lines", name: "optimal D", x: xs, y: opt, yaxis: "y2",
      line: { color: C.optimal, width: s.dash, dash: "dash" }, hoverinfo: "skip", visible: show.d && prob && opt.length > 0,
    };
    data[T.d] = {
      type: "scatter", mode: "lines", name: prob ? "D(x)" : "critic D(x)", x: xs, y: dl, yaxis: "y2",
      line: { color: C.dline, width: s.line }, hoverinfo: "skip", visible: show.d,
    };

    // rugs: real just under the axis (a tick each), fakes below them with their arrows
    const real = f.real ? Array.from(f.real) : [];
    const fake = f.fake ? Array.from(f.fake) : [];
    const grad = f.fake_grad ? Array.from(f.fake_grad) : [];
    const yReal = -band * 0.18;
    const tick = band * 0.07;
    const rx = [], ry = [];
    for (const r of real) if (Number.isFinite(r)) { rx.push(r, r, null); ry.push(yReal - tick, yReal + tick, null); }
    data[T.realRug] = {
      type: "scatter", mode: "lines", name: "real samples", showlegend: false, x: rx, y: ry, hoverinfo: "skip",
      line: { color: "rgba(17, 122, 58, 0.6)", width: s.markerLine + 1 }, visible: show.real && rx.length > 0,
    };
    // a subset of fakes, each on its own row so the arrows can be told apart
    const n = fake.length;
    const stride = Math.max(1, Math.floor(n / ARROWS_SHOWN));
    const ref = ctx.shared ? ctx.shared.push : scale.update(quantileLength(grad, null, 0.9));
    const k = (0.06 * span) / ref;
    const ax = [], ay = [], fx = [], fy = [];
    const gh = f.ghost && f.ghost.fake && f.ghost.fake.length === n ? f.ghost : null;
    const gx = [], gy = [], lx = [], ly = [];
    let moved = 0;
    const rowH = (band * 0.66) / ARROWS_SHOWN;
    const headY = rowH * 0.4;
    let row = 0;
    const shownPush = [];
    for (let i = 0; i < n; i += stride, row++) {
      const x0 = fake[i];
      shownPush.push(grad[i]);
      const y0 = -band * 0.3 - (row % ARROWS_SHOWN) * rowH;
      fx.push(x0); fy.push(y0);
      if (gh) {
        const xg = gh.fake[i];
        moved = Math.max(moved, Math.abs(x0 - xg) || 0);
        gx.push(xg); gy.push(y0); lx.push(xg, x0, null); ly.push(y0, y0, null);
      }
      const d = grad[i] * k;
      if (!Number.isFinite(d) || Math.abs(d) < 0.004 * span) continue;
      const x1 = x0 + d;
      const h = Math.min(Math.abs(d) * 0.35, 0.015 * span) * Math.sign(d);
      ax.push(x0, x1, null, x1 - h, x1, x1 - h, null);
      ay.push(y0, y0, null, y0 + headY, y0, y0 - headY, null);
    }
    data[T.fakeRug] = {
      type: "scatter", mode: "markers", name: "fake samples", showlegend: false, x: fx, y: fy, customdata: shownPush, hoverinfo: "skip",
      marker: { color: C.fake, size: Math.max(5, s.marker * 0.6), line: { color: "#fff", width: 0.8 } }, visible: show.fake,
    };
    // the averaged generator (g_ema > 0): its samples as open triangles between the rugs
    const ema = f.fake_ema ? Array.from(f.fake_ema) : [];
    data[T.emaRug] = {
      type: "scatter", mode: "markers", name: "averaged G (EMA)", showlegend: false, x: ema, y: ema.map(() => -band * 0.24), hoverinfo: "skip", visible: show.fake && ema.length > 0,
      marker: { symbol: "triangle-up-open", color: C.fake, size: Math.max(6, s.marker * 0.7), line: { width: 1.5 } },
    };
    data[T.arrows] = {
      type: "scatter", mode: "lines", name: "push on fakes", showlegend: false, x: ax, y: ay, hoverinfo: "skip",
      line: { color: C.arrow, width: s.arrow }, visible: show.arrows,
    };

    // ---- what the last step did (paused): the picture before it, faded ----
    const g = f.ghost && f.ghost.xs && f.ghost.xs.length === xs.length ? f.ghost : null;
    const showFakes = !!gh && moved > 1e-5 * span && show.fake;
    let dMoved = 0;
    if (g && g.d_line && f.d_line) for (let i = 0; i < dl.length; i++) dMoved = Math.max(dMoved, Math.abs(dl[i] - g.d_line[i]) || 0);
    const showD = !!g && dMoved > 1e-6 * (prob ? 1 : Math.max(dRange, 1e-3)) && show.d;
    let densMoved = 0;
    if (g && g.fake_density) for (let i = 0; i < fd.length; i++) densMoved = Math.max(densMoved, Math.abs(fd[i] - g.fake_density[i]) || 0);
    const showDens = !!g && densMoved > 1e-4 * ymax && show.fake;
    data[T.ghostDensity] = {
      type: "scatter", mode: "lines", name: "fake density before the step", x: showDens ? xs : [], y: showDens ? Array.from(g.fake_density) : [],
      line: { color: "rgba(91, 15, 134, 0.5)", width: s.line * 0.7, dash: "dot" }, hoverinfo: "skip", visible: showDens, showlegend: showDens,
    };
    data[T.ghostD] = {
      type: "scatter", mode: "lines", name: "D before the step", x: showD ? xs : [], y: showD ? Array.from(g.d_line) : [], yaxis: "y2",
      line: { color: "rgba(20, 20, 20, 0.35)", width: s.line, dash: "dot" }, hoverinfo: "skip", visible: showD, showlegend: showD,
    };
    data[T.ghostLinks] = {
      type: "scatter", mode: "lines", name: "moved by the step", showlegend: false, x: showFakes ? lx : [], y: showFakes ? ly : [], hoverinfo: "skip",
      line: { color: "rgba(91, 15, 134, 0.5)", width: ctx.lecture ? 2 : 1.2 }, visible: showFakes,
    };
    data[T.ghostRug] = {
      type: "scatter", mode: "markers", name: "fakes before the step", showlegend: showFakes, x: showFakes ? gx : [], y: showFakes ? gy : [], hoverinfo: "skip",
      marker: { color: "rgba(255,255,255,0.4)", size: Math.max(5, s.marker * 0.6), line: { color: "rgba(91, 15, 134, 0.55)", width: 1.5 } }, visible: showFakes,
    };

    // ---- samples beyond the plotted range: counted on the border, never silently cut ----
    const groups = [];
    if (show.real) groups.push({ values: real, y: yReal, color: C.real, what: "real samples" });
    if (show.fake) groups.push({ values: fake, y: -band * 0.63, color: C.fake, what: "fake samples" });
    data[T.outside] = outsideTrace(groups, lo, hi, s);

    // ---- the arrows' key above the plot's top edge: HTML on the page, a text trace in a file ----
    const median = quantileLength(shownPush, null, 0.5);
    const note = `<span style="color:${C.arrow}">━➤</span> ${ctx.compact ? `median push ≈ ${fmt(median, 2)}` : `push on fakes, ${pushLabel(median)}`}`;
    data[T.note] = {
      type: "scatter", mode: "text", name: "arrows' key", showlegend: false, x: [lo], y: [top], text: [note], textposition: "top right",
      cliponaxis: false, hoverinfo: "skip", textfont: { size: s.tick, color: C.ink }, visible: show.arrows && n > 0,
    };
    // after a step while paused: what the faded items are, in the plot's top right corner
    const faded = [showD && "D", showDens && "fake density"].filter(Boolean).join(" and ");
    // side by side (compact) in a word; the page's panels are too narrow for the sentence
    const ghostText = !(faded || showFakes) ? "" : ctx.compact ? "faded: before the step"
      : [faded && `dotted: ${faded} before this step`, showFakes && "hollow: the fakes before it"].filter(Boolean).join("<br>");

    // the D axis is placed so that its `undecided` level is well above the sample band
    const y1range = [-band, top];
    const frac = band / (top + band);           // share of the height under zero
    const y2range = prob
      ? [-frac / (1 - frac) * 1.08, 1.08]        // so that D = 0 sits on the density zero line
      : [dr[0] - frac / (1 - frac) * (dr[1] - dr[0]), dr[1]];
    const layout = {
      ...baseLayout(ctx.lecture),
      margin: { l: ctx.lecture ? 80 : 60, r: ctx.lecture ? 90 : 70, t: ctx.compact ? (ctx.lecture ? 34 : 24) : ctx.lecture ? 44 : 34, b: ctx.lecture ? 60 : 46 },
      hovermode: false,   // the hover text is ours (hover1d.js)
      // the page's legend row names the curves (app.js); exportFigure puts a legend in the file
      showlegend: false,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: s.tick }, bgcolor: "rgba(255,255,255,0)" },
      xaxis: axis(ctx.lecture, { range: [lo, hi], zeroline: false, tickvals: niceTicks(lo, hi, 6), title: { text: "x", font: { size: s.title }, standoff: 4 } }),
      yaxis: axis(ctx.lecture, { range: y1range, title: { text: "density", font: { size: s.title } }, zeroline: true, zerolinewidth: 2, zerolinecolor: "#444", showgrid: true, tickvals: niceTicks(0, top) }),
      yaxis2: axis(ctx.lecture, {
        range: y2range, overlaying: "y", side: "right", showgrid: false, zeroline: false, mirror: false,
        title: { text: prob ? "D(x) = P(real)" : "critic score D(x)", font: { size: s.title } },
        tickvals: prob ? [0, 0.25, 0.5, 0.75, 1] : niceTicks(dr[0], dr[1]),
      }),
    };
    last = { data, layout, compact: !!ctx.compact, ghostText, y1range, y2range, lo, hi, frame: f, ctx };
    div.layers = data;   // for tests and readers of the page: every layer, as an export has them
    // Plotly: the axes, redrawn only when they change; the rest is painted over them
    if (redraw.draw(AXES_ONLY, layout, PLOT_CONFIG) === "react") plot.invalidate();
    if (!plotted) {
      plotted = true;
      attachPointer();
      div.on("plotly_afterplot", () => { plot.invalidate(); plot.place(); paint(); });
    }
    plot.place();
    paint();
    drawOverlay(note, show.arrows && n > 0, ghostText);
    if (pointer) showHover();
    painted++;
  }

  /** Data coordinates -> canvas (or plot-area) pixels: x over [lo, hi], y on its axis' range. */
  function mapper(pad, W, H) {
    const { lo, hi, y1range, y2range } = last;
    return (x, y, yaxis) => {
      const [b, t] = yaxis === "y2" ? y2range : y1range;
      return [pad + ((x - lo) / (hi - lo)) * W, pad + ((t - y) / (t - b)) * H];
    };
  }

  function paint() {
    if (!last) return;
    const { c, dpr, pad, W, H } = plot.begin();
    paintTraces(c, PAINT_ORDER.map((i) => last.data[i]), mapper(pad, W, H), dpr, [pad, pad, W, H]);
  }

  /** The arrows' key above the plot's top left corner; what is faded, in its top right one. */
  function drawOverlay(note, noteOn, ghostText) {
    const a = plot.area();
    if (!a) return;
    const put = plot.put, el = plot.ov.querySelector(".ov-note"), gn = plot.ov.querySelector(".ov-ghost");
    put(el, "hidden", !noteOn);
    put(el, "html", note);
    put(el, "left", `${a.x0}px`);
    put(el, "top", `${a.y0}px`);
    put(gn, "hidden", !ghostText);
    put(gn, "html", ghostText);
    put(gn, "left", `${a.x0 + a.w - 6}px`);
    put(gn, "top", `${a.y0 + 6}px`);
  }

  /** The hover text at the pointer: a fake sample under it (ringed), a border marker, else
   * D(x) and the push at the pointer's x. */
  function showHover() {
    const a = plot.area();
    if (!a || !last || !pointer) return;
    const { data, frame: f, lo, hi, ctx } = last;
    const toPx = mapper(0, a.w, a.h);
    const { px, py } = pointer;
    const on = (t) => nearestPoint(data[t], (x, y) => toPx(x, y, data[t].yaxis), px, py);
    const i = on(T.fakeRug), j = i < 0 ? on(T.outside) : -1;
    const x = lo + (px / a.w) * (hi - lo);
    // on the D line: anywhere over the plot area (the pointer may be a little beyond it, for
    // the markers on its border)
    const lines = i >= 0 ? fakeLines(data[T.fakeRug].x[i], data[T.fakeRug].customdata[i])
      : j >= 0 ? [data[T.outside].customdata[j]]
      : pointer.inside ? lineLines(f, x, layerOn(ctx.view, "d")) : [];
    const at = i >= 0 ? toPx(data[T.fakeRug].x[i], data[T.fakeRug].y[i]) : null;
    plot.showTip(lines, pointer, at, { x: String(x), kind: i >= 0 ? "fake" : j >= 0 ? "outside" : "line", index: String(i >= 0 ? i : j) });
  }

  function hideHover() {
    pointer = null;
    plot.hideTip();
  }

  function attachPointer() {
    div.addEventListener("pointermove", (ev) => {
      const p = plot.point(ev, EDGE_PAD);
      if (p) { pointer = p; showHover(); } else hideHover();
    });
    div.addEventListener("pointerleave", hideHover);
  }

  /** The figure as a file should show it: every layer as a Plotly trace, the faded items'
   * caption as an annotation, and a legend unless compact. */
  function exportFigure() {
    if (!last) return null;
    const m = last.layout.margin;
    const legend = { ...last.layout.legend, y: -0.2, yanchor: "top" };
    const s = sizes(last.ctx.lecture);
    const annotations = last.ghostText ? [{
      xref: "x domain", yref: "y domain", x: 0.99, y: 0.98, xanchor: "right", yanchor: "top", showarrow: false, align: "left",
      text: last.ghostText, font: { size: last.compact ? s.tick * 0.8 : s.tick, color: "#444" }, bgcolor: "rgba(255,255,255,0.85)", bordercolor: "#ccc", borderpad: 3,
    }] : [];
    const layout = { ...last.layout, showlegend: !last.compact, legend, annotations, margin: { ...m, b: last.compact ? m.b : m.b + 60 } };
    return { data: last.data, layout };
  }

  return {
    div, render, exportFigure, redraw,
    /** frames painted (each a new frame or a redraw of one; Plotly redraws: redraw.counts.react) */
    get painted() { return painted; },
    resetScale() { scale.reset(); yHold.reset(); dHold.reset(); centre = null; lastHalf = 0; },
    traceIndex: T,
  };
}
