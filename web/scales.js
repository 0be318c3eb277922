// The scales that lanes side by side share, so that "flat" and "steep", "tall" and "long"
// mean the same in every panel: D's colour range around white (2D), the density and D axes
// (1D), and the length of the push arrows (both). The colour range and the arrows follow the
// farthest lane at once and come down slowly, as one view's own scale does; the 1D axes hold
// still (HeldBound) so that their round ticks (niceTicks) stay put while training plays.

import { quantileLength } from "./theme.js";

const FLOOR = { push2d: 0.05, push1d: 0.02 };   // the arrows' reference push never goes below
const DECAY = { color: 0.95, push: 0.97 };      // per update (the views' own rates)
// an axis bound is kept while the data reach 25..100 % of it; it comes down only after the
// data have stayed under that for RELEASE frames in a row (a second at 30 fps). A young
// critic's reach swings by 2 to 5x from one frame to the next (WGAN-GP on separated1d: 2,
// then 10, then 2): a bound that followed every swing made the axis (and the whole plot,
// redrawn) jump at every frame
const HOLD = { low: 0.25, headroom: 1.15 };
const RELEASE = 30;

/** An axis bound that holds still: update(now) (the data's reach) grows it at once to `now`
 * plus 15 % headroom, keeps it while `now` stays within [HOLD.low, 1] of it, and sets it to
 * `now` plus headroom only when `now` has stayed under HOLD.low of it for RELEASE updates.
 * The axis moves in jumps, rarely, instead of breathing every frame. */
export class HeldBound {
  constructor() { this.reset(); }

  reset() { this.value = 0; this.under = 0; }

  update(now) {
    const v = now > 0 ? now : 0;
    this.under = v < HOLD.low * this.value ? this.under + 1 : 0;
    if (!(this.value > 0) || v > this.value || this.under >= RELEASE) {
      this.value = Math.max(v * HOLD.headroom, 1e-3);
      this.under = 0;
    }
    return this.value;
  }
}

/** A value range that holds still: `prev` ([lo, hi]) while it holds the values and they span
 * at least a quarter of it, else the values' range with 15 % of it added on each side. A
 * chart's history only grows, so its range grows in rare jumps instead of every redraw.
 * Null when there are no finite values. */
export function holdRange(values, prev) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo > hi) return null;
  if (prev && lo >= prev[0] && hi <= prev[1] && hi - lo >= HOLD.low * (prev[1] - prev[0])) return prev;
  const pad = 0.15 * (hi - lo || Math.max(Math.abs(hi), 1e-3));
  return [lo - pad, hi + pad];
}

/** A round step for about `n` ticks over `span`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceStep(span, n = 4) {
  if (!(span > 0)) return 1;
  const raw = span / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw * 0.999) || raw;
}

/** The round numbers in [lo, hi] at niceStep(hi - lo, n): ticks a person reads (−10, 0, 10,
 * not 13.9 / 6.4 / −1). Panels with the same span get the same step. */
export function niceTicks(lo, hi, n = 4) {
  if (!(hi - lo > 0)) return [lo];
  const step = niceStep(hi - lo, n);
  const out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k++) out.push(+(k * step).toPrecision(12));
  return out;
}

/** How far D's raw score on the grid reaches below and above white (`undecided`). */
export function dSpread(f) {
  const u = Number.isFinite(f.undecided) ? f.undecided : (f.display === "probability" ? 0.5 : 0);
  let mn = Infinity, mx = -Infinity;
  if (f.d_grid) for (const v of f.d_grid) if (Number.isFinite(v)) { if (v < mn) mn = v; if (v > mx) mx = v; }
  if (!Number.isFinite(mn)) return { low: 1, high: 1 };
  return { low: u - mn, high: mx - u };
}

/** The typical push on a frame's fakes: the 0.9-quantile length of -dL_G/dx. */
export function pushSpread(f) {
  const g = f.fake_grad;
  if (!g || !g.length) return 0;
  if (f.kind !== "2d") return quantileLength(g, null, 0.9);
  const x = [], y = [];
  for (let i = 0; i + 1 < g.length; i += 2) { x.push(g[i]); y.push(g[i + 1]); }
  return quantileLength(x, y, 0.9);
}

/** A 1D frame's tallest density and how far D strays from white. */
export function lineSpread(f) {
  let density = 0, d = 0;
  for (const a of [f.fake_density, f.real_density]) if (a) for (const v of a) if (Number.isFinite(v)) density = Math.max(density, v);
  const u = f.undecided ?? (f.display === "probability" ? 0.5 : 0);
  if (f.d_line) for (const v of f.d_line) if (Number.isFinite(v)) d = Math.max(d, Math.abs(v - u));
  return { density, d };
}

/** The shared scales of the lanes' newest frames: {low, high, push, density, d}. */
export function shareScales(frames, prev = null) {
  const p = prev || {};
  let low = 1e-3, high = 1e-3, push = 0, density = 1e-3, d = 1e-3;
  let floor = FLOOR.push1d;
  for (const f of frames) {
    push = Math.max(push, pushSpread(f));
    if (f.kind === "2d") {
      floor = FLOOR.push2d;
      if (f.display !== "probability") { const s = dSpread(f); low = Math.max(low, s.low); high = Math.max(high, s.high); }
    } else if (f.kind === "1d") {
      const s = lineSpread(f);
      density = Math.max(density, s.density);
      d = Math.max(d, s.d);
    }
  }
  const follow = (now, key, decay) => Math.max(now, (p[key] ?? 0) * decay);
  // the 1D axes' bounds carry their state from one set of scales to the next (not a scale)
  const held = p.held || { density: new HeldBound(), d: new HeldBound() };
  const out = {
    low: follow(low, "low", DECAY.color), high: follow(high, "high", DECAY.color),
    push: Math.max(follow(push, "push", DECAY.push), floor),
    density: held.density.update(density), d: held.d.update(d),
  };
  return Object.defineProperty(out, "held", { value: held, enumerable: false });
}

/** Whether scales b moved from a by more than the share `slack` (a panel drawn with a is stale). */
export const scalesMoved = (a, b, slack) => !a || !b || Object.keys(b).some((k) => Math.abs(a[k] - b[k]) > slack * b[k]);
