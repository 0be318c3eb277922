// Metrics history and its charts: D and G losses, W1 with its real-vs-real floor, mode
// coverage, high-quality rate, precision and recall, gradient norms, penalties, JS / KL,
// the Frechet distance and the Parzen-window NLL. Every change of the
// config (config_changed event) is a labelled vertical line on every chart.

import { C, sizes, baseLayout, axis, PLOT_CONFIG } from "./theme.js";

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

  addMark(iteration, label, reset = false) {
    this.marks.push({ iteration, label, reset });
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

// evaluated: the panel shows costly metrics, which arrive with the next evaluation
/** The charts, in order; `setShown` names them by title. */
export const CHARTS = [
  { title: "losses" },
  { title: "W₁", log: true, evaluated: true },
  { title: "coverage", range: [0, 1.05], evaluated: true },
  { title: "‖∇ₓD‖" },
  { title: "penalties" },
  { title: "JS, KL", evaluated: true },
  { title: "Fréchet", log: true, evaluated: true },
  { title: "Parzen NLL", evaluated: true },
];
const ROW_PX = 215, LECTURE_ROW_PX = 260;

// Every series: its panel, where it comes from (cheap rows or evaluations), key and style.
// With several lanes each series is drawn once per lane in the lane's colour, the series of
// a panel told apart by their dash (the first solid).
const SERIES = [
  { panel: 0, from: "rows", key: "d_loss", name: "D loss", color: C.real },
  { panel: 0, from: "rows", key: "g_loss", name: "G loss", color: C.fake },
  { panel: 1, from: "evals", key: "w1", name: "W₁", color: C.ink, dots: true },
  { panel: 1, from: "evals", key: "w1_floor", name: "floor", color: "#888", dash: "dot" },
  { panel: 2, from: "coverage", key: "v", name: "modes", color: C.real, dots: true },
  { panel: 2, from: "evals", key: "high_quality", name: "high-quality", color: C.arrow, dots: true },
  { panel: 2, from: "evals", key: "precision", name: "precision", color: "#1f5fbf", dots: true, single: true },
  { panel: 2, from: "evals", key: "recall", name: "recall", color: "#b42318", dots: true, single: true },
  { panel: 3, from: "rows", key: "grad_norm_real", name: "at real", color: C.real },
  { panel: 3, from: "rows", key: "grad_norm_fake", name: "at fake", color: C.fake },
  { panel: 5, from: "evals", key: "js", name: "JS", color: "#1f5fbf", dots: true },
  { panel: 5, from: "evals", key: "kl", name: "KL", color: "#b42318", dots: true },
  { panel: 6, from: "evals", key: "frechet", name: "Fréchet", color: C.ink, dots: true },
  { panel: 7, from: "evals", key: "kde_nll", name: "held-out real", color: C.real, dots: true },
];
const DASHES = ["solid", "dot", "dash", "dashdot"];
const DASH_GLYPH = { solid: "━", dot: "┈", dash: "╍", dashdot: "─·" };
const PALETTE = ["#1f5fbf", "#e85d04", "#117a3a", "#7a1fa2", "#b42318", "#555"];

/** Coverage as a share: modes covered over modes, per evaluation. */
const coverage = (E) => E.map((e) => ({ iteration: e.iteration, v: Number.isFinite(e.modes_covered) && e.modes_total ? e.modes_covered / e.modes_total : NaN }));

export function createMetrics(div) {
  let drawnRev = "";
  let drawnLecture = null;
  let shown = null;         // titles of the charts drawn, null: all
  let last = null;          // the last render's arguments, to redraw when `shown` changes

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
    if (!force && rev === drawnRev && drawnLecture === ctx.lecture) return false;
    drawnRev = rev; drawnLecture = ctx.lecture;
    const s = sizes(ctx.lecture);
    const lw = ctx.lecture ? 3.5 : 2.2;
    const multi = sources.length > 1;
    const data = [];
    const visible = CHARTS.map((p, i) => ({ ...p, index: i })).filter((p) => !shown || shown.includes(p.title));
    const slot = new Map(visible.map((p, k) => [p.index, k + 1]));   // chart index -> axis number
    const legends = CHARTS.map(() => []);   // per panel: [{name, color, dash}]
    const add = (panel, rows, key, name, color, extra = {}) => {
      const { x, y } = thin(rows, key);
      data.push({ type: "scatter", mode: "lines", name, x, y, xaxis: `x${slot.get(panel)}`, yaxis: `y${slot.get(panel)}`, hoverinfo: "x+y+name", line: { color, width: lw, ...(extra.line || {}) }, connectgaps: false, ...extra.trace });
    };
    const dots = { mode: "lines+markers", marker: { size: ctx.lecture ? 7 : 5 } };
    const byPanel = {};
    const penaltyKeys = [...new Set(sources.flatMap((src) => [...src.history.keys].filter((k) => k.startsWith("penalty."))))];
    const series = [...SERIES, ...penaltyKeys.map((k, i) => ({ panel: 4, from: "rows", key: k, name: k.slice(8), color: PALETTE[i % PALETTE.length] }))]
      .filter((se) => !(multi && se.single) && slot.has(se.panel))
      .sort((a, b) => a.panel - b.panel);
    for (const se of series) {
      const n = (byPanel[se.panel] = (byPanel[se.panel] ?? -1) + 1);
      const dash = multi ? DASHES[n % DASHES.length] : se.dash;
      legends[se.panel].push({ name: se.name, color: multi ? C.ink : se.color, dash: dash || "solid" });
      for (const src of sources) {
        const h = src.history;
        const rows = se.from === "rows" ? h.rows : se.from === "evals" ? h.evals : coverage(h.evals);
        add(se.panel, rows, se.key, multi ? `${src.name}: ${se.name}` : se.name, multi ? src.color : se.color, {
          line: dash ? { dash } : {},
          trace: { ...(se.dots ? dots : {}), meta: { lane: src.lane ?? null, series: se.key } },
        });
      }
    }
    if (!penaltyKeys.length && slot.has(4)) data.push({ type: "scatter", x: [], y: [], xaxis: `x${slot.get(4)}`, yaxis: `y${slot.get(4)}`, hoverinfo: "skip" });
    const marks = sources.flatMap((src) => src.history.marks.map((m) => ({ ...m, color: multi ? src.color : null })));

    // grid: 3 columns, or 2 when the chart is narrow; as many rows as the panels need
    const wide = (div.clientWidth || 1000) >= 820;
    const cols = wide ? 3 : 2, rows = Math.ceil(visible.length / cols), gx = wide ? 0.06 : 0.1, gy = (ctx.lecture ? 0.4 : 0.34) / rows;
    div.hidden = !rows;   // no chart shown: the element folds away
    if (!rows) return true;
    const wantH = `${rows * (ctx.lecture ? LECTURE_ROW_PX : ROW_PX)}px`;
    if (div.style.height !== wantH) div.style.height = wantH;
    const w = (1 - gx * (cols - 1)) / cols, hh = (1 - gy * (rows - 1)) / rows;
    const layout = {
      ...baseLayout(ctx.lecture),
      // a new set of charts starts fresh: with one uirevision Plotly would carry the old
      // charts' ranges into axes that no longer exist
      uirevision: visible.map((p) => p.title).join("|"),
      hovermode: "x unified",
      margin: { l: ctx.lecture ? 62 : 48, r: 16, t: ctx.lecture ? 76 : 62, b: ctx.lecture ? 44 : 36 },
      showlegend: false,
      annotations: [],
      shapes: [],
    };
    let xmax = 1;
    for (const src of sources) for (const r of [src.history.rows.at(-1), src.history.evals.at(-1)]) if (r) xmax = Math.max(xmax, r.iteration);
    visible.forEach((p, i) => {
      const c = i % cols, r = Math.floor(i / cols);
      const x0 = c * (w + gx), y1 = 1 - r * (hh + gy);
      const ax = i === 0 ? "" : String(i + 1);
      layout[`xaxis${ax}`] = axis(ctx.lecture, { domain: [x0, x0 + w], anchor: `y${i + 1}`, range: [0, xmax * 1.02], tickfont: { size: s.tick - 1 }, nticks: 5, zeroline: false });
      layout[`yaxis${ax}`] = axis(ctx.lecture, { domain: [y1 - hh, y1], anchor: `x${i + 1}`, tickfont: { size: s.tick - 1 }, nticks: 5, type: p.log ? "log" : "linear", range: p.range, autorange: p.range ? false : true, zeroline: true, zerolinecolor: "#ccc", exponentformat: "power" });
      // panel title with a legend of its series
      const series = data.filter((d) => d.xaxis === `x${i + 1}` && d.name);
      const names = legends[p.index];
      // two series a line: four (coverage) would run past the panel on a projector
      const wrap = names.length > 2;  // then the title has a line of its own
      const legend = names.map((d, k) => `${wrap && k % 2 === 0 ? "<br>" : ""}<span style="color:${d.color}">${DASH_GLYPH[d.dash] || "━"} ${d.name}</span>`).join("  ");
      layout.annotations.push({
        name: "chart-title", xref: "paper", yref: "paper", x: x0, y: y1, xanchor: "left", yanchor: "bottom", yshift: 2, showarrow: false, align: "left",
        text: `<b>${p.title}</b>  ${legend || '<span style="color:#888">none active</span>'}`, font: { size: s.tick - 1 },
      });
      const empty = series.every((d) => !d.y.some((y) => y !== null));
      if (empty) {
        layout.annotations.push({
          xref: `x${i + 1} domain`, yref: `y${i + 1} domain`, x: 0.5, y: 0.5, showarrow: false,
          text: p.index === 4 ? "no penalty active" : p.evaluated ? "waiting for the next evaluation…" : "waiting for data…",
          font: { size: s.tick, color: "#8a8f98" },
        });
      }
      // change markers
      for (const m of marks) {
        const color = m.color || (m.reset ? "#b42318" : "#1f5fbf");
        layout.shapes.push({ type: "line", xref: `x${i + 1}`, yref: `y${i + 1} domain`, x0: m.iteration, x1: m.iteration, y0: 0, y1: 1, line: { color, width: ctx.lecture ? 2.5 : 1.6, dash: "dash" } });
        layout.annotations.push({ xref: `x${i + 1}`, yref: `y${i + 1} domain`, x: m.iteration, y: 1, xanchor: "left", yanchor: "top", showarrow: false, text: shortLabel(m.label), font: { size: s.tick - 3, color }, bgcolor: "rgba(255,255,255,0.75)", textangle: 0 });
      }
    });
    Plotly.react(div, data, layout, PLOT_CONFIG);
    return true;
  }

  return { div, render, setShown };
}

function shortLabel(s) {
  s = String(s || "");
  return s.length > 26 ? `${s.slice(0, 25)}…` : s;
}
