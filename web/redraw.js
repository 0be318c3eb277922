// How a view puts its figure on its plot div. The view builds the whole figure every frame
// (one drawing path); this decides how much of it Plotly redoes: Plotly.react when anything
// but the traces' data changed (a style, the layout: the axes moved, the size, lecture mode),
// else Plotly.restyle of only the traces whose data changed, and nothing when none did.

// what may change from frame to frame without a react: each trace's data and visibility
const DATA_KEYS = ["x", "y", "customdata", "text", "visible"];

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

/** A drawer for `div`: draw(data, layout, config) returns "react", "restyle" or "none";
 * `counts` says how often each happened (the page's stats and the tests read them). */
export function createRedraw(div) {
  let key = null;
  let sent = null;
  const counts = { react: 0, restyle: 0, none: 0 };

  function draw(data, layout, config) {
    const k = styleKey(data, layout);
    if (k !== key || !sent || sent.length !== data.length || !div.data || div.data.length !== data.length) {
      Plotly.react(div, data, layout, config);
      key = k;
      sent = data;
      counts.react++;
      return "react";
    }
    const changed = [];
    for (let i = 0; i < data.length; i++) if (DATA_KEYS.some((a) => !same(data[i][a], sent[i][a]))) changed.push(i);
    if (!changed.length) { counts.none++; return "none"; }
    // per trace, undefined leaves an attribute as it is (Plotly.restyle)
    const update = {};
    for (const a of DATA_KEYS) {
      const vals = changed.map((i) => (same(data[i][a], sent[i][a]) ? undefined : data[i][a] ?? (a === "visible" ? true : null)));
      if (vals.some((v) => v !== undefined)) update[a] = vals;
    }
    Plotly.restyle(div, update, changed);
    sent = data;
    counts.restyle++;
    return "restyle";
  }

  /** Forget what was drawn: the next draw is a react (after a resize or a purge). */
  function reset() { key = null; sent = null; }

  return { draw, reset, counts };
}
