// How a view puts its figure on its plot div. The view builds the whole figure every frame
// (one drawing path); this decides how much of it Plotly redoes: Plotly.react when anything
// but the traces' data changed (a style, a trace shown or hidden, the layout: the axes moved,
// the size, lecture mode), else the new data of only the traces whose data changed, and
// nothing when none did.
//
// The data alone go in by Plotly.animate with no transition and no redraw: Plotly puts the
// new points, lines, fills and texts in place and recomputes what hover reads, without
// redrawing the axes. Measured in headless Chromium (1D view, 1600 x 1000): 12-13 ms of main
// thread a frame against 19-22 ms for Plotly.restyle, which redraws the whole plot.

// what may change from frame to frame without a react: each trace's data
const DATA_KEYS = ["x", "y", "customdata", "text"];
const NO_TRANSITION = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };

const same = (a, b) => {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y)) && !(Array.isArray(x) && same(x, y))) return false;
  }
  return true;
};

/** The figure without its data (and without datarevision, which only forces a react). */
function styleKey(data, layout) {
  const bare = data.map((t) => {
    const o = { ...t };
    for (const k of DATA_KEYS) delete o[k];
    return o;
  });
  const { datarevision, ...rest } = layout;
  return JSON.stringify([bare, rest]);
}

/** A drawer for `div`: draw(data, layout, config) returns "react", "data" or "none";
 * `counts` says how often each happened (the page's stats and the tests read them). */
export function createRedraw(div) {
  let key = null;
  let sent = null;
  const counts = { react: 0, data: 0, none: 0 };

  function draw(data, layout, config) {
    const k = styleKey(data, layout);
    if (k !== key || !sent || sent.length !== data.length || !div.data || div.data.length !== data.length) {
      Plotly.react(div, data, layout, config);
      key = k;
      sent = data;
      counts.react++;
      return "react";
    }
    if (!data.some((t, i) => DATA_KEYS.some((a) => !same(t[a], sent[i][a])))) { counts.none++; return "none"; }
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
  function reset() { key = null; sent = null; }

  return { draw, reset, counts };
}
