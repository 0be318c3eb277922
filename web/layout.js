// The stage fitted into the window (issue 15): the lanes' panels and the charts the preset's
// note talks about on one screen, without scrolling, from 1 to 4 lanes.
//
// Everything on the stage but the plots (the option rows, the panels' heads, the featured
// charts) keeps its own height; the plots share what is left of the window's height. The
// grid of panels (1 x 4, 2 x 2, ...) is the one whose plots get the largest drawing area
// for their kind (a 2D surface wants a square, a 1D plot a wide box). When the plots would
// be smaller than MIN_AREA with the charts on screen, the charts go below the fold and the
// plots fill the window alone; when even that is too small (a phone), the plots keep a
// legible height and the page scrolls.

/** The smallest drawing area (its shorter side, px) worth having the charts on screen for. */
export const MIN_AREA = 130;

// How each kind of panel uses its box: the axes' margins (mx, my: px across and down,
// normal and lecture type) and the shape of the drawing area (width over height, a). Lanes
// side by side draw 1D panels compact (no title room above the axes).
const SHAPES = {
  "2d": { a: 1, mx: [175, 220], my: [78, 100] },
  "1d": { a: 1.4, mx: [130, 170], my: [86, 110] },
  "1d-compact": { a: 1.4, mx: [130, 170], my: [58, 72] },
  dirac: { a: 2.2, mx: [85, 105], my: [230, 300] },
  overlay1d: { a: 1.4, mx: [130, 170], my: [56, 70] },
  overlayDirac: { a: 1.6, mx: [80, 100], my: [68, 80] },
};

const shapeOf = (kind) => SHAPES[kind] || SHAPES["2d"];

/** The shorter side of the drawing area of a `kind` panel of w x h px. */
export function drawingArea(kind, w, h, lecture = false) {
  const s = shapeOf(kind), i = lecture ? 1 : 0;
  return Math.min((w - s.mx[i]) / s.a, h - s.my[i]);
}

/**
 * The grid for n panels of `kind` in a box of width w and height h (head: the height of a
 * panel's head, gap: between panels): {cols, rows, plotH, area}, the plots no taller than
 * their drawing area's shape uses.
 */
export function bestGrid(n, kind, w, h, { head = 0, gap = 0, lecture = false } = {}) {
  if (kind === "1d" && n > 1) kind = "1d-compact";
  const s = shapeOf(kind), i = lecture ? 1 : 0;
  let best = null;
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols);
    const pw = (w - gap * (cols - 1)) / cols;
    const tallest = s.my[i] + Math.max(0, pw - s.mx[i]) / s.a;   // beyond it, height is wasted
    const plotH = Math.min(tallest, (h - rows * head - gap * (rows - 1)) / rows);
    const area = drawingArea(kind, pw, plotH, lecture);
    if (!best || area > best.area + 0.5) best = { cols, rows, plotH, area, pw, shape: s };
  }
  return best;
}

const visible = (el) => !!el && !el.hidden && getComputedStyle(el).display !== "none";
const heightOf = (el) => (visible(el) ? el.getBoundingClientRect().height : 0);

/**
 * Fit the panels of #view-wrap and the charts of #metrics-wrap into the window.
 * Returns {fit(kind, n, lecture), state}: call fit after the panels or the charts changed; it
 * also refits itself when the window or any row of the stage changes size.
 * `chartsFolded()` says whether only the featured charts are drawn (then they are fitted);
 * `onChange(state)` is called when the panels' height or columns changed.
 * The charts (#metrics-wrap) are the last of the stage's rows that are fitted; the rows
 * above the panels keep their height.
 */
export function createFit({ stage, wrap, metricsWrap, chartsFolded, onChange }) {
  const state = { fits: 0, cols: 1, rows: 1, plotH: 0, area: 0, charts: "none" };
  let last = null;         // the last fit's arguments
  let featuredH = 0;       // the charts' height while folded (kept while they are unfolded)
  let frame = 0;

  function fit(kind = last?.kind, n = last?.n, lecture = last?.lecture) {
    if (!kind) return state;
    last = { kind, n, lecture };
    // what is above the panels (option rows, the halt banner) and below them (the gap and
    // the featured charts, then the stage's padding) keeps its height
    const box = wrap.getBoundingClientRect();
    const top = box.top + window.scrollY;
    const below = parseFloat(getComputedStyle(stage).paddingBottom) || 0;
    let chartsH = 0;
    if (visible(metricsWrap)) {
      if (chartsFolded()) featuredH = heightOf(metricsWrap);
      chartsH = metricsWrap.getBoundingClientRect().top - box.bottom + featuredH;
    }
    const ws = getComputedStyle(wrap);
    const chrome = parseFloat(ws.paddingTop) + parseFloat(ws.paddingBottom) + parseFloat(ws.borderTopWidth) + parseFloat(ws.borderBottomWidth);
    const inner = wrap.clientWidth - parseFloat(ws.paddingLeft) - parseFloat(ws.paddingRight);
    const head = n > 1 ? heightOf(wrap.querySelector(".lane-panel:not([hidden]) .lane-head")) : 0;
    const panelGap = n > 1 ? parseFloat(ws.rowGap) || 0 : 0;
    const room = window.innerHeight - top - below - chrome;
    const opts = { head, gap: panelGap, lecture };
    let g = bestGrid(n, kind, inner, room - chartsH, opts);
    state.charts = chartsH ? "on screen" : "none";
    if (g.area < MIN_AREA && chartsH) {
      g = bestGrid(n, kind, inner, room, opts);
      state.charts = "below";
    }
    if (g.area < MIN_AREA) {
      // too small even alone: a legible height, the page scrolls
      const s = g.shape, i = lecture ? 1 : 0;
      g.plotH = Math.max(g.plotH, s.my[i] + Math.min(MIN_AREA, Math.max(0, g.pw - s.mx[i]) / s.a));
      state.charts = chartsH ? "below" : "none";
    }
    const plotH = Math.max(120, Math.floor(g.plotH));
    const changed = plotH !== state.plotH || g.cols !== state.cols;
    wrap.style.setProperty("--lane-cols", String(g.cols));
    wrap.style.setProperty("--plot-h", `${plotH}px`);
    Object.assign(state, { fits: state.fits + 1, cols: g.cols, rows: g.rows, plotH, area: Math.round(g.area) });
    if (changed) onChange?.(state);
    return state;
  }

  /** Refit on the next frame (several changes in one frame fit once). */
  function soon() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; fit(); });
  }

  const ro = new ResizeObserver(soon);
  for (const el of [...stage.children, metricsWrap]) if (el !== wrap) ro.observe(el);
  ro.observe(stage);
  window.addEventListener("resize", soon);
  return { fit, soon, state };
}
