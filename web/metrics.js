// Metrics history and its charts: D and G losses, W1 with its real-vs-real floor as a band,
// mode coverage ("modes covered: 6 of 8"), high-quality rate, precision and recall, gradient
// norms, penalties, JS (its own axis, with log 2 marked) and KL, the Frechet distance and the
// Parzen-window NLL. Each chart names its axes and units and says in one line what it shows.
// Every change of the config (config_changed event) is a vertical line on every chart with a
// short label above the plot (changeMarks.js); labels that would touch collapse into one.

import { C, sizes, baseLayout, axis, PLOT_CONFIG } from "./theme.js";
import { placeMarks } from "./changeMarks.js";
import { createRedraw } from "./redraw.js";
import { holdRange } from "./scales.js";

const MAX_ROWS = 20000;     // history kept for export; older rows are thinned when exceeded
const MAX_DRAWN = 1200;     // points per series drawn

export class MetricsHistory {
  constructor() { this.clear(); }

  clear() {
    this.rows = [];          // cheap metrics per distinct iteration: {iteration, version, ...metrics}
    this.evals = [];         // costly metrics: {iteration, version, ...}
    this.marks = [];         // {iteration, label, reset}
    this.keys = new Set();
    this.evalKeys = new Set();
    this.rev = 0;
  }

  addFrame(f) {
    if (!f.metrics || !Number.isFinite(f.iteration)) return;
    const row = { iteration: f.iteration, version: f.version };
    for (const [k, v] of Object.entries(f.metrics)) { row[k] = v === null ? NaN : v; this.keys.add(k); }
    const last = this.rows[this.rows.length - 1];
    if (last && last.iteration === f.iteration) this.rows[this.rows.length - 1] = row;
    else if (last && f.iteration < last.iteration) return;   // stale (older) frame
    else this.rows.push(row);
    if (this.rows.length > MAX_ROWS) this.rows = this.rows.filter((_, i) => i % 2 === 0 || i > this.rows.length - 100);
    this.rev++;
  }

  addEvaluation(ev) {
    const row = { iteration: ev.iteration, version: ev.version };
    for (const [k, v] of Object.entries(ev.metrics || {})) { row[k] = v === null ? NaN : v; this.evalKeys.add(k); }
    const last = this.evals[this.evals.length - 1];
    if (last && last.iteration === row.iteration) this.evals[this.evals.length - 1] = row; else this.evals.push(row);
    if (this.evals.length > MAX_ROWS) this.evals = this.evals.filter((_, i) => i % 2 === 0);
    this.rev++;
  }

  /** A change of the config at `iteration`: its short label, its changes in words (the
   * hover) and the server's one-line summary (kept for the export). */
  addMark(iteration, label, details = [], summary = label) {
    this.marks.push({ iteration, label, details, summary });
    this.rev++;
  }

  /** One table of every metric: cheap rows, with the evaluation merged at its iteration. */
  table() {
    const evalBy = new Map(this.evals.map((e) => [e.iteration, e]));
    const cols = ["iteration", "version", ...[...this.keys].sort(), ...[...this.evalKeys].sort()];
    const seen = new Set();
    const out = this.rows.map((r) => { seen.add(r.iteration); return { ...r, ...(evalBy.get(r.iteration) || {}) }; });
    for (const e of this.evals) if (!seen.has(e.iteration)) out.push({ ...e });
    out.sort((a, b) => a.iteration - b.iteration);
    return { cols, rows: out };
  }

  toCSV() {
    const { cols, rows } = this.table();
    const cell = (v) => (v === undefined || v === null || (typeof v === "number" && !Number.isFinite(v)) ? "" : String(v));
    return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
  }

  toJSON(extra = {}) {
    const clean = (rows) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" && !Number.isFinite(v) ? null : v])));
    return JSON.stringify({ ...extra, metrics: clean(this.rows), evaluations: clean(this.evals), changes: this.marks }, null, 1);
  }
}

function thin(rows, key) {
  const xs = [], ys = [];
  const step = Math.max(1, Math.ceil(rows.length / MAX_DRAWN));
  for (let i = 0; i < rows.length; i += step) {
    const r = rows[i];
    const v = r[key];
    xs.push(r.iteration);
    ys.push(typeof v === "number" && Number.isFinite(v) ? v : null);
  }
  return { x: xs, y: ys };
}

const LOG2 = Math.LN2;
const JS_TOP = 0.88;  // the JS axis: 0 to 0.88, so that the strip above log 2 holds its label

/** The charts, in order; `setShown` names them by title. unit: the y axis' title; note: one
 * short line under the chart saying what it shows, more: the rest of it, on hover over the
 * note (which then ends in "…") (both checked against gan_core/metrics.py); evaluated: costly metrics, which arrive
 * with the next evaluation. */
export const CHARTS = [
  { title: "losses", unit: "loss value", note: "L<sub>D</sub>, L<sub>G</sub> on the last batch, each on its loss's scale" },
  { title: "W₁", unit: "data units", log: true, evaluated: true,
    note: "grey band: W₁ of real vs real, what a perfect G scores",
    more: "The floor: the mean W₁ between the reference sample and 8 independent real samples of the same size. A W₁ in the band is as close as two real samples are." },
  { title: "coverage", unit: "share", range: [0, 1.05], evaluated: true,
    note: "high-quality: fakes within 3 std of their nearest mode",
    more: "A mode is covered when it is the nearest mode of at least one high-quality fake (for a point mass: within 0.01). Precision, recall: k-NN manifolds, k = 3 (Kynkäänniemi et al. 2019)." },
  { title: "‖∇ₓD‖", unit: "score per x", note: "mean slope of D's raw score at the samples shown", more: "The raw score is the logit for the sigmoid losses." },
  { title: "penalties", unit: "loss value", note: "each regularizer's term as added to the loss", more: "Its weight included." },
  { title: "JS, KL", unit: "JS (nats)", evaluated: true, js: true, note: "32-bin histograms (32 × 32 in 2D); JS ≤ log 2",
    more: "KL(real ‖ fake). JS nears log 2 when real and fake do not overlap." },
  { title: "Fréchet", unit: "data units²", log: true, evaluated: true, note: "Gaussians fitted to real and fake: two moments only",
    more: "‖μ<sub>r</sub> − μ<sub>g</sub>‖² + tr(C<sub>r</sub> + C<sub>g</sub> − 2 (C<sub>r</sub> C<sub>g</sub>)<sup>½</sup>): FID without the Inception features." },
  { title: "Parzen NLL", unit: "nats/sample", evaluated: true, note: "−log p of held-out real under a KDE on the fakes",
    more: "Lower is better; not a likelihood (Theis et al. 2016): how well the fakes, blurred, explain unseen real data." },
];

// Every series: its chart, where it comes from (cheap rows or evaluations), key and style.
// With several lanes each series is drawn once per lane in the lane's colour, the series of
// a chart told apart by their dash (the first solid).
const SERIES = [
  { panel: 0, from: "rows", key: "d_loss", name: "D loss", color: C.real },
  { panel: 0, from: "rows", key: "g_loss", name: "G loss", color: C.fake },
  { panel: 1, from: "evals", key: "w1", name: "W₁", color: C.ink, dots: true },
  { panel: 1, from: "evals", key: "w1_floor", name: "floor", color: "#888", dash: "dot", band: true },
  { panel: 2, from: "coverage", key: "v", name: "modes covered", color: C.real, dots: true },
  { panel: 2, from: "evals", key: "high_quality", name: "high-quality", color: C.arrow, dots: true },
  { panel: 2, from: "evals", key: "precision", name: "precision", color: "#1f5fbf", dots: true },
  { panel: 2, from: "evals", key: "recall", name: "recall", color: "#b42318", dots: true },
  { panel: 3, from: "rows", key: "grad_norm_real", name: "at real", color: C.real },
  { panel: 3, from: "rows", key: "grad_norm_fake", name: "at fake", color: C.fake },
  { panel: 5, from: "evals", key: "js", name: "JS", color: "#1f5fbf", dots: true },
  { panel: 5, from: "evals", key: "kl", name: "KL (right axis)", color: "#b42318", dots: true, right: true },
  { panel: 6, from: "evals", key: "frechet", name: "Fréchet", color: C.ink, dots: true },
  { panel: 7, from: "evals", key: "kde_nll", name: "held-out real", color: C.real, dots: true },
];
const DASHES = ["solid", "dot", "dash", "dashdot"];
const DASH_GLYPH = { solid: "━", dot: "┈", dash: "╍", dashdot: "─·" };
const PALETTE = ["#1f5fbf", "#e85d04", "#117a3a", "#7a1fa2", "#b42318", "#555"];
const BAND = "rgba(120, 120, 120, 0.2)";
const MARK = "#4b5563";        // the config changes of a single run (with lanes: the lane's colour)
const REFERENCE = "#4b5563";   // JS's log 2 line
const FONT = baseLayout(false).font.family;

/** Coverage as a share: modes covered over modes, per evaluation. */
const coverage = (E) => E.map((e) => ({ iteration: e.iteration, v: Number.isFinite(e.modes_covered) && e.modes_total ? e.modes_covered / e.modes_total : NaN }));

let measurer = null;
/** Width in px of a label (HTML tags dropped) in the charts' font. */
function textWidth(text, size) {
  measurer = measurer || document.createElement("canvas").getContext("2d");
  measurer.font = `${size}px ${FONT}`;
  return measurer.measureText(String(text).replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")).width;
}

/** Lines of `items` (HTML snippets) joined by two spaces, wrapped to `width` px; `slack`
 * for text that runs wider than the canvas measures it (bold titles, the line glyphs). */
function wrap(items, width, size, slack = 1.1) {
  const lines = [];
  for (const it of items) {
    const last = lines.at(-1);
    if (last && slack * textWidth(`${last}  ${it}`, size) <= width) lines[lines.length - 1] = `${last}  ${it}`;
    else lines.push(it);
  }
  return lines;
}

/** Words wrapped to `width` px. */
const wrapWords = (text, width, size) => wrap(text.split(" "), width, size, 1.02).map((l) => l.replace(/ {2}/g, " "));

const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
/** 10^k as a label: plain from 0.001 to 10000, else 10⁻⁵. */
const decade = (k) => (k >= -3 && k <= 4 ? String(+(10 ** k).toPrecision(1)) : `10${String(k).split("").map((c) => SUPERSCRIPT[c]).join("")}`);

/** A log axis over the values: whole decades at both ends, labelled major ticks only (every
 * decade, or every second or third where `room` labels would not fit), unlabelled minor ticks
 * at 2..9 while there are few decades. */
export function logAxis(values, room) {
  const pos = values.filter((v) => Number.isFinite(v) && v > 0);
  if (!pos.length) return { type: "log", autorange: true, showticklabels: false };
  const lo = Math.floor(Math.log10(Math.min(...pos)) + 1e-9);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...pos)) - 1e-9));
  const step = Math.max(1, Math.ceil((hi - lo) / Math.max(1, room - 1)));
  const ks = [];
  for (let k = lo; k <= hi; k += step) ks.push(k);
  const minor = [];
  if (hi - lo <= 3) for (let k = lo; k < hi; k++) for (let m = 2; m <= 9; m++) minor.push(m * 10 ** k);
  return {
    type: "log", autorange: false, range: [lo, hi], tickmode: "array",
    tickvals: ks.map((k) => 10 ** k), ticktext: ks.map(decade),
    minor: { tickmode: "array", tickvals: minor, ticks: "outside", ticklen: 3, showgrid: false },
  };
}

const FINE_STEPS = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
// the x axis' ends: a jump of the range redraws every row of charts (a Plotly.react, 30-50 ms
// a row), so it goes in steps of 2 to 2.5x: while training plays at 120 it/s from iteration
// 400 on, one jump in 10 s instead of three
const X_STEPS = [1, 2, 5, 10];

/** The smallest of `steps` times a power of ten that is >= v. */
function niceCeil(v, steps = FINE_STEPS) {
  const p = 10 ** Math.floor(Math.log10(v));
  return steps.map((f) => f * p).find((x) => x >= v * (1 - 1e-9));
}

/** Sizes of a chart's parts in px, normal and lecture mode. */
function chartSizes(lecture) {
  const s = sizes(lecture);
  const small = lecture ? s.tick - 4 : s.tick - 2;   // marks, notes, the x axis' title
  const font = { title: s.tick - 1, tick: s.tick - 1, note: small, mark: small, axis: small };
  const line = (f) => Math.ceil(f * 1.3);
  // a row of charts with a one-line title and note: 190 px (normal), 211 px (lecture)
  return {
    font, line,
    plot: lecture ? 100 : 96,                    // the plot area's height
    minWidth: lecture ? 400 : 270,               // a chart's narrowest (3 columns from 810 px)
    left: lecture ? 86 : 62,                     // y title and tick labels
    right: lecture ? 66 : 46,                    // the KL axis (and the gap to the next chart)
    strip: line(font.mark) + 4,                  // the change marks' labels, above the plot
    ticks: line(font.tick) + 4,                  // x tick labels under the plot
    xtitle: line(font.axis),                     // "generator iteration"
    pad: 6,                                      // under the note
  };
}

export function createMetrics(div) {
  let drawnRev = "";
  let drawnLecture = null;
  let shown = null;         // titles of the charts drawn, null: all
  let drawnSet = null;      // the titles of the charts in the figure, joined
  let last = null;          // the last render's arguments, to redraw when `shown` changes
  // the axes hold still while the run grows (the x axis to 1.3 times the last iteration, in
  // steps of 1, 2, 5 times a power of ten; each linear y axis by holdRange), so that most
  // redraws while training plays are data updates (redraw.js)
  let rows = [];             // [{div, redraw}]: one Plotly figure a row of charts
  let pending = null;       // the rows of a staggered render not drawn yet: {figures, next}
  let xTop = 0;
  let yHeld = new Map();    // chart title -> [lo, hi]

  /** The charts drawn: titles as in CHARTS (others fold away), or null for all of them. */
  function setShown(titles) {
    if (titles !== null) {
      const known = new Set(CHARTS.map((p) => p.title));
      const bad = titles.filter((t) => !known.has(t));
      if (bad.length) throw new Error(`setShown: unknown chart ${bad.map((t) => JSON.stringify(t)).join(", ")}; the charts are ${[...known].join(", ")}`);
    }
    shown = titles === null ? null : [...titles];
    if (last) render(last.sources, last.ctx, true);
  }

  /** sources: [{history, color, name}] in lane order (one: the single-run look). */
  function render(sources, ctx, force = false) {
    last = { sources, ctx };
    const rev = sources.map((src) => `${src.history.rev}:${src.color}:${src.name}`).join("|");
    const W = div.clientWidth || 1000;
    if (!force && rev === drawnRev && drawnLecture === `${ctx.lecture}:${W}`) return false;
    drawnRev = rev; drawnLecture = `${ctx.lecture}:${W}`;
    const visible = CHARTS.map((p, i) => ({ ...p, index: i })).filter((p) => !shown || shown.includes(p.title));
    div.hidden = !visible.length;   // no chart shown: the element folds away
    if (!visible.length) return true;
    const m = chartSizes(ctx.lecture);
    // grid: as many columns (up to 3, and no more than there are charts: one featured chart
    // takes the whole row) as charts of m.minWidth fit; rows as tall as they need.
    // Each row is its own Plotly figure (a .metrics-row): an update costs Plotly about in
    // proportion to a figure's subplots, and while playing a row is updated after each new
    // frame of the view (drawRows)
    const cols = Math.max(1, Math.min(3, visible.length, Math.floor(W / m.minWidth)));
    const nRows = Math.ceil(visible.length / cols);
    const rowOf = new Map(visible.map((p, i) => [p.index, Math.floor(i / cols)]));
    const slot = new Map(visible.map((p, i) => [p.index, (i % cols) + 1]));   // chart index -> axis number in its row
    const lw = ctx.lecture ? 3.5 : 2.2;
    const multi = sources.length > 1;
    const datas = Array.from({ length: nRows }, () => []);   // per row: its traces
    const legends = CHARTS.map(() => []);   // per chart: [{name, color, dash, band}]
    const values = CHARTS.map(() => []);    // per chart: every value drawn (the log axes' range)
    let xmax = 1;
    for (const src of sources) for (const r of [src.history.rows.at(-1), src.history.evals.at(-1)]) if (r) xmax = Math.max(xmax, r.iteration);
    // a new run (the history cleared) starts its axes again
    if (!(xmax <= xTop && xmax >= 0.25 * xTop)) { xTop = niceCeil(xmax * 1.3, X_STEPS); yHeld = new Map(); }
    const rightAxis = new Map();            // chart index -> axis number of its right axis (in its row)
    const nextAxis = Array.from({ length: nRows }, (_, r) => Math.min(cols, visible.length - r * cols) + 1);
    const dots = { mode: "lines+markers", marker: { size: ctx.lecture ? 7 : 5 } };
    const penaltyKeys = [...new Set(sources.flatMap((src) => [...src.history.keys].filter((k) => k.startsWith("penalty."))))];
    const series = [...SERIES, ...penaltyKeys.map((k, i) => ({ panel: 4, from: "rows", key: k, name: k.slice(8), color: PALETTE[i % PALETTE.length] }))]
      .filter((se) => slot.has(se.panel))
      .sort((a, b) => a.panel - b.panel);
    const perPanel = {};
    for (const se of series) {
      const n = (perPanel[se.panel] = (perPanel[se.panel] ?? -1) + 1);
      const dash = multi ? DASHES[n % DASHES.length] : se.dash;
      legends[se.panel].push({ name: se.name, color: multi ? C.ink : se.color, dash: dash || "solid", band: se.band });
      const data = datas[rowOf.get(se.panel)];
      if (se.right && !rightAxis.has(se.panel)) rightAxis.set(se.panel, nextAxis[rowOf.get(se.panel)]++);
      const k = slot.get(se.panel);
      const yaxis = se.right ? `y${rightAxis.get(se.panel)}` : `y${k}`;
      for (const src of sources) {
        const h = src.history;
        const rows = se.from === "rows" ? h.rows : se.from === "evals" ? h.evals : coverage(h.evals);
        const { x, y } = thin(rows, se.key);
        if (!se.right) values[se.panel].push(...y);
        const color = multi ? src.color : se.color;
        const meta = { lane: src.lane ?? null, series: se.key };
        if (se.band) data.push(band(x, y, xTop, k, meta));
        data.push({
          type: "scatter", mode: "lines", name: multi ? `${src.name}: ${se.name}` : se.name, x, y, xaxis: `x${k}`, yaxis,
          hoverinfo: "x+y+name", line: { color, width: se.band ? lw * 0.6 : lw, ...(dash ? { dash } : {}) }, connectgaps: false,
          ...(se.dots ? dots : {}), meta,
        });
      }
    }
    if (!penaltyKeys.length && slot.has(4)) datas[rowOf.get(4)].push({ type: "scatter", x: [], y: [], xaxis: `x${slot.get(4)}`, yaxis: `y${slot.get(4)}`, hoverinfo: "skip" });
    const marks = sources.flatMap((src) => src.history.marks.map((mk) => ({ ...mk, color: multi ? src.color : MARK, lane: multi ? src.name : null })));

    const stride = W / cols;
    const plotW = stride - m.left - m.right;
    const heads = visible.map((p) => head(p, sources, legends[p.index], plotW, m));
    const notes = visible.map((p) => wrapWords(p.note + (p.more ? "\u00a0…" : ""), stride - 12, m.font.note));
    const rowTops = [];
    let H = 0;
    for (let r = 0; r * cols < visible.length; r++) {
      const inRow = visible.map((_, i) => i).filter((i) => Math.floor(i / cols) === r);
      const hLines = Math.max(...inRow.map((i) => heads[i].length));
      const nLines = Math.max(...inRow.map((i) => notes[i].length));
      const top = hLines * m.line(m.font.title) + m.strip;
      const foot = m.ticks + m.xtitle + nLines * m.line(m.font.note) + m.pad;
      rowTops.push({ y: H, top, foot, h: top + m.plot + foot });
      H += top + m.plot + foot;
    }
    const setKey = visible.map((p) => p.title).join("|");
    const layouts = rowTops.map((row) => ({
      ...baseLayout(ctx.lecture),
      // a new set of charts starts fresh: with one uirevision Plotly would carry the old
      // charts' ranges into axes that no longer exist
      uirevision: setKey,
      hovermode: "x unified",
      // the pixel plan's height, exactly (Plotly would keep its last one until a resize); the
      // width stays the container's (a fixed width would hold a flex container open)
      height: Math.ceil(row.h),
      margin: { l: 0, r: 0, t: 0, b: 0, pad: 0 },
      showlegend: false,
      annotations: [],
      shapes: [],
    }));
    const pxX = (px) => px / W;             // px from the left -> paper x
    visible.forEach((p, i) => {
      const k = slot.get(p.index), c = i % cols, r = Math.floor(i / cols), row = rowTops[r];
      const layout = layouts[r], data = datas[r];
      const py = (px) => 1 - (px - row.y) / row.h;   // px from the grid's top -> the row's paper y
      const x0 = c * stride + m.left, yTop = row.y + row.top;
      const dom = { x: [pxX(x0), pxX(x0 + plotW)], y: [py(yTop + m.plot), py(yTop)] };
      const ax = k === 1 ? "" : String(k);
      const font = { size: m.font.tick };
      layout[`xaxis${ax}`] = axis(ctx.lecture, {
        domain: dom.x, anchor: `y${k}`, range: [0, xTop], tickfont: font, nticks: Math.max(3, Math.floor(plotW / 70)), zeroline: false,
        title: { text: "generator iteration", font: { size: m.font.axis }, standoff: 2 }, automargin: false,
      });
      const logs = p.log ? logAxis(values[p.index], Math.floor(m.plot / (ctx.lecture ? 25 : 24))) : {};
      const held = p.range || p.log || p.js ? null : holdRange(values[p.index], yHeld.get(p.title));
      if (held) yHeld.set(p.title, held);
      const yRange = p.range || held;
      layout[`yaxis${ax}`] = axis(ctx.lecture, {
        domain: dom.y, anchor: `x${k}`, tickfont: font, nticks: 5, type: "linear", range: yRange || undefined, autorange: !yRange,
        zeroline: true, zerolinecolor: "#ccc", automargin: false, title: { text: p.unit, font: { size: m.font.axis }, standoff: 4 },
        ...(p.js ? { range: [0, JS_TOP], autorange: false, tickmode: "array", tickvals: [0, 0.25, 0.5, LOG2], ticktext: ["0", "0.25", "0.5", "0.69"] } : {}),
        ...logs,
      });
      if (rightAxis.has(p.index)) {
        const klColor = multi ? C.ink : SERIES.find((se) => se.key === "kl").color;   // its lines' colour
        const kl = Math.max(0, ...data.filter((d) => d.yaxis === `y${rightAxis.get(p.index)}`).flatMap((d) => d.y.filter((v) => v !== null)));
        // KL's axis ends at a round number that puts its largest value at or under log 2's
        // height: the strip above log 2 stays clear for its label
        layout[`yaxis${rightAxis.get(p.index)}`] = axis(ctx.lecture, {
          overlaying: `y${k}`, side: "right", anchor: `x${k}`, showgrid: false, zeroline: false, mirror: false, automargin: false,
          range: [0, niceCeil((kl > 0 ? kl : 1) * JS_TOP / LOG2)], tickfont: { size: m.font.tick, color: klColor }, tickmode: "auto", nticks: 4,
          title: { text: "KL (nats)", font: { size: m.font.axis, color: klColor }, standoff: 2 },
        });
      }
      if (p.js) jsReference(layout, k, m);
      // title with the legend of the chart's series, above the marks' strip
      layout.annotations.push({
        name: "chart-title", xref: "paper", yref: "paper", x: pxX(c * stride + 6), y: py(row.y), xanchor: "left", yanchor: "top", showarrow: false, align: "left",
        text: heads[i].join("<br>"), font: { size: m.font.title },
      });
      layout.annotations.push({
        name: "chart-note", xref: "paper", yref: "paper", x: pxX(c * stride + 6), y: py(yTop + m.plot + m.ticks + m.xtitle + 2), xanchor: "left", yanchor: "top", showarrow: false, align: "left",
        text: notes[i].join("<br>"), hovertext: p.more, captureevents: !!p.more, font: { size: m.font.note, color: "#5f6670" },
      });
      const drawn = data.filter((d) => d.xaxis === `x${k}` && d.name);
      if (drawn.every((d) => !d.y.some((y) => y !== null))) {
        layout.annotations.push({
          xref: `x${k} domain`, yref: `y${k} domain`, x: 0.5, y: 0.5, showarrow: false,
          text: p.index === 4 ? "no penalty active" : p.evaluated ? "waiting for the next evaluation…" : "waiting for data…",
          font: { size: m.font.title + 1, color: "#8a8f98" },
        });
      }
      drawMarks(layout, marks, { k, x0, plotW, yTop, xTop, m, ctx, pxX, py });
    });
    // another set of charts is a new figure: Plotly.react from one set to another leaves an
    // axis that was an overlay (KL's) half updated and draws NaN paths
    if (setKey !== drawnSet) { for (const row of rows) { Plotly.purge(row.div); row.div.remove(); } rows = []; }
    drawnSet = setKey;
    while (rows.length < nRows) {
      const el = Object.assign(document.createElement("div"), { className: "metrics-row" });
      div.append(el);
      rows.push({ div: el, redraw: createRedraw(el) });
    }
    while (rows.length > nRows) { const row = rows.pop(); Plotly.purge(row.div); row.div.remove(); }
    rows.forEach((row, r) => {
      row.div.dataset.first = String(r * cols);
      // its height at once: a new row is empty until Plotly has drawn it, and the rows under it
      // would sit on top of it meanwhile
      const h = `${layouts[r].height}px`;
      if (row.div.style.height !== h) row.div.style.height = h;
    });
    drawRows(layouts.map((layout, r) => ({ data: datas[r], layout })), !!ctx.stagger);
    return true;
  }

  /** Every row now, or (stagger: while training plays) the first now and each next one when
   * drawNextRow() is called, which the page does right after it drew a new frame: a row is
   * then drawn where the next frame is furthest away. A newer render takes over the rows not
   * drawn yet. */
  function drawRows(figures, stagger) {
    pending = { figures, next: 0 };
    do drawNextRow(); while (!stagger && pending);
  }

  /** Draw the next row left by a staggered render; false when none was left. */
  function drawNextRow() {
    if (!pending) return false;
    const { figures, next: r } = pending;
    if (rows[r]) rows[r].redraw.draw(figures[r].data, figures[r].layout, PLOT_CONFIG);
    pending = r + 1 < figures.length ? { figures, next: r + 1 } : null;
    return true;
  }

  return { div, render, drawNextRow, setShown };
}

/** The W₁ floor as a grey band from the axis' bottom up to it, over the whole run (the floor
 * depends on the target and the number of samples only). */
function band(x, y, xEnd, k, meta) {
  const pts = x.map((xi, j) => [xi, y[j]]).filter(([, v]) => v !== null);
  if (!pts.length) return { type: "scatter", x: [], y: [], xaxis: `x${k}`, yaxis: `y${k}`, hoverinfo: "skip", meta: { ...meta, band: true } };
  const xs = [0, ...pts.map((q) => q[0]), xEnd];
  const ys = [pts[0][1], ...pts.map((q) => q[1]), pts.at(-1)[1]];
  return {
    type: "scatter", mode: "lines", x: [...xs, ...[...xs].reverse()], y: [...ys, ...ys.map(() => 1e-30)],
    fill: "toself", fillcolor: BAND, line: { width: 0, shape: "hv" }, xaxis: `x${k}`, yaxis: `y${k}`, hoverinfo: "skip", meta: { ...meta, band: true },
  };
}

/** The title lines of a chart: its name (and coverage's "modes covered: 6 of 8"), then the
 * legend of its series, wrapped to the chart's width. */
function head(p, sources, legend, width, m) {
  let first = `<b>${p.title}</b>`;
  if (p.index === 2) first += `  ${modesCovered(sources)}`;
  const items = legend.map((d) => `<span style="color:${d.band ? "#777" : d.color}">${d.band ? "▮" : DASH_GLYPH[d.dash] || "━"} ${d.name}</span>`);
  if (!items.length) items.push('<span style="color:#888">none active</span>');
  return wrap([first, ...items], width + m.left + m.right - 12, m.font.title);
}

/** "modes covered: 6 of 8" from each lane's latest evaluation (in the lane's colour). */
function modesCovered(sources) {
  const parts = sources.map((src) => {
    const e = [...src.history.evals].reverse().find((ev) => Number.isFinite(ev.modes_covered));
    return e ? { text: `${e.modes_covered} of ${e.modes_total}`, color: sources.length > 1 ? src.color : C.real } : null;
  });
  if (!parts.some(Boolean)) {
    const evaluated = sources.some((src) => src.history.evals.length);
    return evaluated ? '<span style="color:#5f6670">this target has no modes</span>' : "";
  }
  return `modes covered: ${parts.map((q) => (q ? `<span style="color:${q.color}">${q.text}</span>` : "–")).join(", ")}`;
}

/** JS's reference: a line at log 2 across the chart, labelled in the clear strip above it. */
function jsReference(layout, k, m) {
  layout.shapes.push({ name: "log2", type: "line", xref: `x${k} domain`, yref: `y${k}`, x0: 0, x1: 1, y0: LOG2, y1: LOG2, line: { color: REFERENCE, width: 1.2, dash: "dash" } });
  layout.annotations.push({
    name: "log2-label", xref: `x${k} domain`, yref: `y${k}`, x: 0.01, y: LOG2, xanchor: "left", yanchor: "bottom", showarrow: false,
    text: "log 2: no overlap", font: { size: m.font.note, color: REFERENCE }, yshift: 4, bgcolor: "rgba(255,255,255,0.85)",
  });
}

/** The config changes: a dashed line each in the plot, the labels in the strip above it. */
function drawMarks(layout, marks, { k, x0, plotW, yTop, xTop, m, ctx, pxX, py }) {
  const toPx = (it) => (it / xTop) * plotW;
  const groups = placeMarks(marks, { toPx, width: plotW, measure: (t) => textWidth(t, m.font.mark) + 4, gap: 6 });
  for (const mk of marks) {
    layout.shapes.push({ type: "line", xref: `x${k}`, yref: `y${k} domain`, x0: mk.iteration, x1: mk.iteration, y0: 0, y1: 1, line: { color: mk.color, width: ctx.lecture ? 2 : 1.2 }, opacity: 0.45 });
  }
  for (const g of groups) {
    const color = g.marks.every((mk) => mk.color === g.marks[0].color) ? g.marks[0].color : C.ink;
    layout.annotations.push({
      name: "change-mark", xref: "paper", yref: "paper", x: pxX(x0 + g.left), y: py(yTop), xanchor: "left", yanchor: "bottom", yshift: 2,
      showarrow: false, text: g.text, hovertext: g.hover, font: { size: m.font.mark, color }, bgcolor: "rgba(255,255,255,0.9)",
      borderpad: 1, captureevents: true,
    });
  }
}
