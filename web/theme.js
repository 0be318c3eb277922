// Colours, sizes and the shared Plotly layout pieces of every view.
// Real = green, fake = purple; the heatmap uses the same pair, paler, so that the
// discriminator's "looks real" side is green and its "looks fake" side purple.

export const C = {
  real: "#117a3a",
  realLine: "#ffffff",
  fake: "#5b0f86",
  fakeLine: "#ffffff",
  arrow: "#e85d04",
  field: "rgba(40, 40, 40, 0.55)",
  trail: "rgba(122, 31, 162, 0.28)",
  manifold: "rgba(60, 20, 90, 0.55)",
  dline: "#111111",
  optimal: "#1f5fbf",
  ink: "#14161a",
  grid: "#e3e6eb",
  zero: "#9aa3b0",
};

/** Diverging: purple (D says fake) — white (undecided) — green (D says real). */
export const DIVERGING = [
  [0.0, "#6a3d9a"],
  [0.15, "#9e7bbf"],
  [0.32, "#cdb8e0"],
  [0.5, "#f7f7f7"],
  [0.68, "#b9e0b3"],
  [0.85, "#6fbf73"],
  [1.0, "#2e8b3e"],
];

/** Sizes for normal and lecture mode. */
export function sizes(lecture) {
  return lecture
    ? { font: 20, tick: 18, title: 22, marker: 11, markerLine: 2, arrow: 2.8, line: 5, dash: 4, fieldLine: 2, trail: 2.2, cbThick: 26 }
    : { font: 13, tick: 12, title: 14, marker: 7, markerLine: 1.2, arrow: 2, line: 3, dash: 2.5, fieldLine: 1.2, trail: 1.4, cbThick: 18 };
}

export function baseLayout(lecture) {
  const s = sizes(lecture);
  return {
    font: { family: "Inter, DejaVu Sans, Helvetica Neue, Arial, sans-serif", size: s.font, color: C.ink },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    showlegend: false,
    uirevision: "keep",
    hovermode: "closest",
    dragmode: false,
  };
}

export function axis(lecture, extra = {}) {
  const s = sizes(lecture);
  return {
    gridcolor: C.grid,
    zerolinecolor: C.zero,
    linecolor: "#555",
    mirror: true,
    showline: true,
    ticks: "outside",
    tickfont: { size: s.tick },
    title: { font: { size: s.title } },
    ...extra,
  };
}

export const PLOT_CONFIG = {
  displaylogo: false,
  responsive: true,
  displayModeBar: false,
  scrollZoom: false,
  doubleClick: false,
};

/**
 * Arrows as one trace: each arrow is a shaft and a two-stroke head, separated by nulls.
 * xs, ys: tails; us, vs: vectors already scaled to plot units.
 */
export function arrowPath(xs, ys, us, vs, { head = 0.28, minLen = 1e-9, maxHead = Infinity, stride = 1 } = {}) {
  const n = xs.length;
  const X = [];
  const Y = [];
  for (let i = 0; i < n; i += stride) {
    const x0 = xs[i], y0 = ys[i], u = us[i], v = vs[i];
    if (!Number.isFinite(x0) || !Number.isFinite(y0) || !Number.isFinite(u) || !Number.isFinite(v)) continue;
    const len = Math.hypot(u, v);
    if (len < minLen) continue;
    const x1 = x0 + u, y1 = y0 + v;
    const h = Math.min(head * len, maxHead);
    const ux = u / len, uy = v / len;
    // head strokes at +-25 degrees back from the tip
    const c = 0.906, sn = 0.423;
    const lx = x1 - h * (ux * c - uy * sn), ly = y1 - h * (uy * c + ux * sn);
    const rx = x1 - h * (ux * c + uy * sn), ry = y1 - h * (uy * c - ux * sn);
    X.push(x0, x1, null, lx, x1, rx, null);
    Y.push(y0, y1, null, ly, y1, ry, null);
  }
  return { x: X, y: Y };
}

/** A robust "typical size" of vectors: their q-quantile length. */
export function quantileLength(us, vs, q = 0.9) {
  const L = [];
  for (let i = 0; i < us.length; i++) {
    const l = Math.hypot(us[i], vs ? vs[i] : 0);
    if (Number.isFinite(l)) L.push(l);
  }
  if (!L.length) return 0;
  L.sort((a, b) => a - b);
  return L[Math.min(L.length - 1, Math.floor(q * L.length))];
}

/**
 * Arrow scale that follows the data slowly and never blows up vanishing gradients:
 * the reference length decays by `decay` per frame towards the current one, floored.
 */
export class ArrowScale {
  constructor(floor = 0.05) { this.floor = floor; this.ref = 0; }
  reset() { this.ref = 0; }
  update(current, decay = 0.97) {
    this.ref = Math.max(current, this.ref * decay, this.floor);
    return this.ref;
  }
}

/** The arrow legend's statistic: the median |push| of the fakes drawn in this frame (the
 * arrows' length scale is separate: it follows the pushes slowly and has a floor). */
export const pushLabel = (median) => `median |push| of the fakes shown ≈ ${fmt(median, 2)}`;

export const fmt = (x, d = 3) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return x.toExponential(1);
  return String(+x.toPrecision(d));
};
