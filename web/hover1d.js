// What the 1D view says under the pointer: x, D(x) there (P(real) where D is a probability)
// and the push a fake sample would get there; on a fake sample its own push and |push| (the
// border markers carry their own text). Pure functions of a frame
// (docs/protocol.md §7): the view places the text.

const PUSH = "push −∂L<sub>G</sub>/∂x";

/** x with d significant digits, a true minus sign; "–" when not finite. */
export function num(x, d) {
  if (!Number.isFinite(x)) return "–";
  const s = String(+x.toPrecision(d));
  return s.startsWith("-") ? `−${s.slice(1)}` : s;
}
const fixed = (x, d) => (Number.isFinite(x) ? x.toFixed(d).replace(/^-/, "−") : "–");

/** ys linearly interpolated at x on the increasing grid xs; null outside it. */
export function interpolate(xs, ys, x) {
  const n = xs ? xs.length : 0;
  if (!ys || ys.length !== n || n < 2 || !(x >= xs[0] && x <= xs[n - 1])) return null;
  let a = 0, b = n - 1;
  while (b - a > 1) { const m = (a + b) >> 1; if (xs[m] <= x) a = m; else b = m; }
  const t = (x - xs[a]) / (xs[b] - xs[a] || 1);
  return ys[a] + t * (ys[b] - ys[a]);
}

/** The lines at x on the D line: x, D(x) (when D is shown) and the push a fake would get there. */
export function lineLines(f, x, showD) {
  const lines = [`x = ${fixed(x, 3)}`];
  const d = showD ? interpolate(f.xs, f.d_line, x) : null;
  if (d !== null) lines.push(f.display === "probability" ? `D(x) = P(real) = ${fixed(d, 4)}` : `critic score D(x) = ${num(d, 4)}`);
  const push = interpolate(f.xs, f.g_grad_line, x);
  if (push !== null) lines.push(`${PUSH} on a fake here = ${num(push, 3)}`);
  return lines;
}

/** The lines over a fake sample at x with push g. */
export function fakeLines(x, g) {
  return [`fake sample at x = ${fixed(x, 3)}`, `${PUSH} = ${num(g, 3)}`, `|push| = ${num(Math.abs(g), 3)}`];
}
