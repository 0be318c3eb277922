// What the 2D view says under the pointer: D(x) and the push there on the D surface, or a
// fake sample's own push. Pure functions of a frame (docs/protocol.md §7): the view places
// the text.

import { fmt } from "./theme.js";

/** Bilinear interpolation of a row-major (n, n, dim) grid over linspace(lo, hi) on both axes
 * (row i = y[i], column j = x[j]); null outside the grid. */
export function bilinear(grid, n, dim, lo, hi, x, y) {
  if (!grid || n < 2) return null;
  const fx = ((x - lo) / (hi - lo)) * (n - 1), fy = ((y - lo) / (hi - lo)) * (n - 1);
  if (!(fx >= 0 && fx <= n - 1 && fy >= 0 && fy <= n - 1)) return null;
  const j = Math.min(Math.floor(fx), n - 2), i = Math.min(Math.floor(fy), n - 2);
  const tx = fx - j, ty = fy - i;
  const at = (r, c, k) => grid[(r * n + c) * dim + k];
  return Array.from({ length: dim }, (_, k) =>
    (1 - ty) * ((1 - tx) * at(i, j, k) + tx * at(i, j + 1, k)) + ty * ((1 - tx) * at(i + 1, j, k) + tx * at(i + 1, j + 1, k)));
}

const pair = (a, b) => `(${fmt(a, 3)}, ${fmt(b, 3)})`;
const logit = (p) => Math.log(p / (1 - p));

/** The lines shown over the D surface at (x, y): x, D(x) (with the probability where D is
 * one), the push there (the field interpolated, when the field is on). */
export function surfaceLines(f, x, y) {
  const [lo, hi] = f.extent;
  const lines = [`x = ${pair(x, y)}`];
  const g = f.shapes?.d_grid?.[0];
  const d = bilinear(f.d_grid, g, 1, lo, hi, x, y);
  if (d) {
    const v = d[0];
    lines.push(f.display === "probability"
      ? `D(x) = ${fmt(logit(v), 3)}, P(real) = σ(D) = ${fmt(v, 3)}`
      : `D(x) = ${fmt(v, 3)} (critic score; white at ${fmt(f.undecided, 3)})`);
  }
  const m = f.shapes?.field?.[0];
  const push = bilinear(f.field, m, 2, lo, hi, x, y);
  lines.push(push
    ? `push −∂L_G/∂x ≈ ${pair(push[0], push[1])}, |push| ≈ ${fmt(Math.hypot(push[0], push[1]), 3)} (interpolated from the ${m} × ${m} field)`
    : "push here: tick “field” to see it");
  return lines;
}

/** The lines shown over fake sample i: where it is, its push −∂L_G/∂x and the push's norm. */
export function fakeLines(f, i) {
  const u = f.fake_grad[2 * i], v = f.fake_grad[2 * i + 1];
  return [
    `fake sample ${i + 1} of ${f.fake.length / 2} at ${pair(f.fake[2 * i], f.fake[2 * i + 1])}`,
    `push −∂L_G/∂x = ${pair(u, v)}, |push| = ${fmt(Math.hypot(u, v), 3)}`,
  ];
}
