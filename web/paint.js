// Painting a view's scatter layers onto a canvas: the same trace objects Plotly draws in an
// exported file (mode "lines" with nulls between pieces, filled to zero or dashed; "markers",
// "markers+text"), painted here live, because a Plotly update of a few hundred SVG points and
// paths costs most of a frame in software raster (bench/bench_browser.py).

const TAU = 2 * Math.PI;

/** One marker of `symbol` at (x, y), radius r (pixels): a circle, or a triangle pointing
 * "up" / "down" / "left" / "right" (the edge markers of samples outside the plot); an
 * "-open" suffix is the same outline. */
function mark(c, symbol, x, y, r) {
  c.beginPath();
  if (!symbol.startsWith("triangle")) { c.arc(x, y, r, 0, TAU); return; }
  const dir = symbol.slice(9).replace("-open", "");
  const [dx, dy] = dir === "up" ? [0, -1] : dir === "down" ? [0, 1] : dir === "left" ? [-1, 0] : [1, 0];
  const k = 1.25 * r;
  c.moveTo(x + dx * k, y + dy * k);
  c.lineTo(x - dx * k - dy * k, y - dy * k + dx * k);
  c.lineTo(x - dx * k + dy * k, y - dy * k - dx * k);
  c.closePath();
}

/** Plotly's dash patterns for a line w canvas pixels wide (its drawing.dashStyle). */
function dashOf(dash, w, dpr) {
  const d = Math.max(w, 3 * dpr);
  return dash === "dot" ? [d, d] : dash === "dash" ? [3 * d, 3 * d] : [];
}

/** Paint traces (Plotly scatter specs) in order. toPx(x, y, yaxis) -> [px, py] (yaxis: the
 * trace's, "y2" for a right axis, undefined for the first); dpr scales sizes; clip [x, y, w, h]:
 * the plot area, which every trace but a `cliponaxis: false` one stays in. */
export function paintTraces(c, traces, toPx, dpr, clip) {
  for (const t of traces) {
    if (!t || t.visible === false || !t.x || !t.x.length) continue;
    c.save();
    if (t.cliponaxis !== false) { c.beginPath(); c.rect(...clip); c.clip(); }
    c.globalAlpha = t.opacity ?? t.marker?.opacity ?? 1;
    const at = (x, y) => toPx(x, y, t.yaxis);
    if (t.mode === "lines") paintLines(c, t, at, dpr);
    else paintMarkers(c, t, at, dpr);
    if (t.mode === "markers+text") paintTexts(c, t, at, dpr);
    c.restore();
  }
}

/** The line's pieces (nulls and non-finite points split it) as one path; with `toZero`, each
 * piece closed down to y = 0 and back (Plotly's fill "tozeroy"). */
function linePath(c, t, at, toZero) {
  c.beginPath();
  let first = null, last = null;
  const close = () => {
    if (toZero && first !== null) { c.lineTo(...at(last, 0)); c.lineTo(...at(first, 0)); c.closePath(); }
    first = null;
  };
  for (let i = 0; i < t.x.length; i++) {
    const x = t.x[i], y = t.y[i];
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) { close(); continue; }
    const [px, py] = at(x, y);
    if (first === null) { c.moveTo(px, py); first = x; } else c.lineTo(px, py);
    last = x;
  }
  close();
}

function paintLines(c, t, at, dpr) {
  if (t.fill === "tozeroy" && t.fillcolor) {
    linePath(c, t, at, true);
    c.fillStyle = t.fillcolor;
    c.fill();
  }
  const w = (t.line.width ?? 1) * dpr;
  c.strokeStyle = t.line.color;
  c.lineWidth = w;
  c.lineJoin = "round";
  c.setLineDash(dashOf(t.line.dash, w, dpr));
  linePath(c, t, at, false);
  c.stroke();
}

function paintMarkers(c, t, at, dpr) {
  const m = t.marker;
  const colors = Array.isArray(m.color) ? m.color : null;
  const symbols = Array.isArray(m.symbol) ? m.symbol : null;
  const open = typeof m.symbol === "string" && m.symbol.endsWith("-open");
  const r = (m.size / 2) * dpr;
  const lw = (m.line?.width ?? 0) * dpr;
  c.lineWidth = lw;
  c.fillStyle = colors ? colors[0] : m.color;
  c.strokeStyle = open ? m.color : m.line?.color;
  for (let i = 0; i < t.x.length; i++) {
    const x = t.x[i], y = t.y[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [px, py] = at(x, y);
    if (colors) c.fillStyle = colors[i];
    mark(c, symbols ? symbols[i] : m.symbol || "circle", px, py, r);
    if (!open) c.fill();
    if (lw > 0) c.stroke();
  }
}

/** Each point's text beside its marker ("middle right": to its right, "middle left": to its left). */
function paintTexts(c, t, at, dpr) {
  const f = t.textfont || {};
  c.font = `${(f.size ?? 12) * dpr}px ${f.family || "sans-serif"}`;
  c.fillStyle = f.color || "#000";
  c.textBaseline = "middle";
  const gap = ((t.marker?.size ?? 6) / 2 + 3) * dpr;
  for (let i = 0; i < t.x.length; i++) {
    const text = Array.isArray(t.text) ? t.text[i] : t.text;
    const x = t.x[i], y = t.y[i];
    if (!text || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    const pos = Array.isArray(t.textposition) ? t.textposition[i] : t.textposition;
    const [px, py] = at(x, y);
    const leftOf = pos === "middle left";
    c.textAlign = leftOf ? "right" : "left";
    c.fillText(String(text), px + (leftOf ? -gap : gap), py);
  }
}
