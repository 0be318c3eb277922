// How a view puts its figure on its plot div. The view builds the whole figure every frame
// (one drawing path); this decides how much of it Plotly redoes: Plotly.react when anything
// but the traces' data and the axes' ranges and ticks changed (a style, a trace shown or
// hidden, the size, lecture mode, a note), else the axes' new ranges by Plotly.relayout and
// the traces' new data, and nothing when neither changed.
//
// An axis' new range by relayout costs a third of a react: measured on a row of three charts
// in headless Chromium, 10-17 ms against 31-47 ms (Plotly redraws the axes and the traces, but
// does not rebuild the figure).
//
// The data alone go in by Plotly.animate with no transition and no redraw: Plotly puts the
// new points, lines, fills and texts in place and recomputes what hover reads, without
// redrawing the axes. Measured in headless Chromium (1D view, 1600 x 1000): 12-13 ms of main
// thread a frame against 19-22 ms for Plotly.restyle, which redraws the whole plot.

// what may change from frame to frame without a react: each trace's data
const DATA_KEYS = ["x", "y", "customdata", "text"];
const NO_TRANSITION = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };
// what may change in an axis without a react
const AXIS_KEYS = ["range", "tickvals", "ticktext"];
const AXIS = /^[xy]axis\d*$/;
const json = (v) => JSON.stringify(v);

const same = (a, b) => {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y)) && !(Array.isArray(x) && same(x, y))) return false;
  }
  return true;
};

/** The traces without their data. */
function styleKey(data) {
  return json(data.map((t) => {
    const o = { ...t };
    for (const k of DATA_KEYS) delete o[k];
    return o;
  }));
}

/** The layout as JSON texts, a key's or, for an axis, each of its properties': Plotly writes
 * into the layout it is given (autorange, type), the texts stay what was sent. */
function snapshot(layout) {
  return Object.fromEntries(Object.entries(layout).map(([k, v]) =>
    [k, AXIS.test(k) && v ? Object.fromEntries(Object.entries(v).map(([p, w]) => [p, json(w)])) : json(v)]));
}

/** What changed from the snapshot `before` to `layout` as Plotly.relayout paths
 * ("xaxis2.range"), when all of it is an axis' range or ticks; else null (datarevision only
 * forces a react). */
export function axisChanges(layout, before) {
  const out = {};
  for (const k of new Set([...Object.keys(layout), ...Object.keys(before)])) {
    if (k === "datarevision") continue;
    const a = layout[k], b = before[k];
    if (!(AXIS.test(k) && a && b && typeof b === "object")) {
      if (json(a) !== b) return null;
      continue;
    }
    for (const p of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (json(a[p]) === b[p]) continue;
      if (!AXIS_KEYS.includes(p) || a[p] === undefined) return null;
      out[`${k}.${p}`] = a[p];
    }
  }
  return out;
}

/** A drawer for `div`: draw(data, layout, config) returns "react", "data" (new data, and
 * perhaps new axis ranges), "axes" (new axis ranges only) or "none"; `counts` says how often
 * each happened (the page's stats and the tests read them). */
export function createRedraw(div) {
  let key = null;
  let sent = null, sentLayout = null;
  const counts = { react: 0, data: 0, axes: 0, none: 0 };

  function draw(data, layout, config) {
    const k = styleKey(data);
    const moves = k === key && sentLayout ? axisChanges(layout, sentLayout) : null;
    if (!moves || !sent || sent.length !== data.length || !div.data || div.data.length !== data.length) {
      sentLayout = snapshot(layout);   // before Plotly writes into it
      Plotly.react(div, data, layout, config);
      key = k;
      sent = data;
      counts.react++;
      return "react";
    }
    const moved = Object.keys(moves).length > 0;
    if (moved) { sentLayout = snapshot(layout); Plotly.relayout(div, moves); }
    if (!data.some((t, i) => DATA_KEYS.some((a) => !same(t[a], sent[i][a])))) {
      if (moved) { counts.axes++; return "axes"; }
      counts.none++;
      return "none";
    }
    // every trace, not only those that changed: Plotly.animate empties the subplots that none
    // of the traces it is given is on (measured: a figure of 3 subplots kept 2 of its 9
    // traces after an animate of one trace); the cost is about the same (metrics.js)
    const all = data.map((_, i) => i);
    const update = all.map((i) => Object.fromEntries(DATA_KEYS.map((a) => [a, data[i][a] ?? []])));
    // the promise settles on a later frame; a newer frame may interrupt it ("immediate")
    Plotly.animate(div, { data: update, traces: all, layout: {} }, NO_TRANSITION).catch(() => {});
    sent = data;
    counts.data++;
    return "data";
  }

  /** Forget what was drawn: the next draw is a react (after a resize or a purge). */
  function reset() { key = null; sent = null; sentLayout = null; }

  return { draw, reset, counts };
}
