// Painting the 2D view's scatter layers onto a canvas: the same trace objects Plotly draws in
// an exported file (mode "markers" or "lines", nulls between line pieces), painted here live,
// because a Plotly redraw of a few hundred SVG markers and arrows costs most of a frame in
// software raster (bench/bench_browser.py).

const TAU = 2 * Math.PI;

/** One marker of `symbol` at (x, y), radius r (pixels): a circle, or a triangle pointing
 * "up" / "down" / "left" / "right" (the edge markers of samples outside the plot). */
function mark(c, symbol, x, y, r) {
  c.beginPath();
  if (!symbol.startsWith("triangle")) { c.arc(x, y, r, 0, TAU); return; }
  const dir = symbol.slice(9);
  const [dx, dy] = dir === "up" ? [0, -1] : dir === "down" ? [0, 1] : dir === "left" ? [-1, 0] : [1, 0];
  const k = 1.25 * r;
  c.moveTo(x + dx * k, y + dy * k);
  c.lineTo(x - dx * k - dy * k, y - dy * k + dx * k);
  c.lineTo(x - dx * k + dy * k, y - dy * k - dx * k);
  c.closePath();
}

/** Paint traces (Plotly scatter specs) in order. toPx(x, y) -> [px, py]; dpr scales sizes;
 * clip [x, y, w, h]: the plot area, which every trace but a `cliponaxis: false` one stays in. */
export function paintTraces(c, traces, toPx, dpr, clip) {
  for (const t of traces) {
    if (!t || t.visible === false || !t.x || !t.x.length) continue;
    c.save();
    if (t.cliponaxis !== false) { c.beginPath(); c.rect(...clip); c.clip(); }
    c.globalAlpha = t.opacity ?? t.marker?.opacity ?? 1;
    if (t.mode === "lines") paintLines(c, t, toPx, dpr);
    else paintMarkers(c, t, toPx, dpr);
    c.restore();
  }
}

function paintLines(c, t, toPx, dpr) {
  c.strokeStyle = t.line.color;
  c.lineWidth = (t.line.width ?? 1) * dpr;
  c.lineJoin = "round";
  c.beginPath();
  let pen = false;
  for (let i = 0; i < t.x.length; i++) {
    const x = t.x[i], y = t.y[i];
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
    const [px, py] = toPx(x, y);
    if (pen) c.lineTo(px, py); else c.moveTo(px, py);
    pen = true;
  }
  c.stroke();
}

function paintMarkers(c, t, toPx, dpr) {
  const m = t.marker;
  const colors = Array.isArray(m.color) ? m.color : null;
  const symbols = Array.isArray(m.symbol) ? m.symbol : null;
  const open = m.symbol === "circle-open";
  const r = (m.size / 2) * dpr;
  const lw = (m.line?.width ?? 0) * dpr;
  c.lineWidth = lw;
  c.fillStyle = colors ? colors[0] : m.color;
  c.strokeStyle = open ? m.color : m.line?.color;
  for (let i = 0; i < t.x.length; i++) {
    const x = t.x[i], y = t.y[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [px, py] = toPx(x, y);
    if (colors) c.fillStyle = colors[i];
    mark(c, symbols ? symbols[i] : "circle", px, py, r);
    if (!open) c.fill();
    if (lw > 0) c.stroke();
  }
}
