// The readout beside the iteration counter: generator iterations per second and rendered
// frames per second, measured on the page over the last WINDOW_MS.
//  - it/s: how far the iteration number of the frames received moved, over the time between
//    the first and the last of them in the window (0 when no frame came in the window);
//  - fps: how many times the plots were drawn in the window, over the window.
// Each meter keeps the samples of one window: at most one a frame, so a few hundred.

export const WINDOW_MS = 2000;

/** What the readout measures (its title attribute). */
export const RATES_TITLE = "Measured on this page over the last 2 seconds. it/s: generator "
  + "iterations per second, from the iteration numbers of the frames received. fps: frames "
  + "drawn per second (one draw shows every lane; frames that arrive while one is being drawn "
  + "are skipped, never queued).";

export class RateMeter {
  constructor(windowMs = WINDOW_MS) {
    this.windowMs = windowMs;
    this.samples = [];   // [time ms, value], oldest first
  }

  /** A sample at time t (ms) of a value that grows (an iteration number); a value that went
   * back (a reset) starts the measure again. */
  add(t, value = 0) {
    const last = this.samples.at(-1);
    if (last && value < last[1]) this.samples = [];
    this.samples.push([t, value]);
    this.trim(t);
  }

  trim(now) {
    let i = 0;
    while (i < this.samples.length && this.samples[i][0] < now - this.windowMs) i++;
    if (i) this.samples.splice(0, i);
  }

  /** The value's growth per second over the samples of the window ending at `now`. */
  perSecond(now) {
    this.trim(now);
    const s = this.samples;
    if (s.length < 2 || s.at(-1)[0] === s[0][0]) return 0;
    return (1000 * (s.at(-1)[1] - s[0][1])) / (s.at(-1)[0] - s[0][0]);
  }

  /** How many samples fell in the window ending at `now`, per second of the window. */
  countPerSecond(now) {
    this.trim(now);
    return (1000 * this.samples.length) / this.windowMs;
  }
}

/** The numbers as the readout writes them: "27 it/s", "1.5 it/s", "24 fps". */
export function formatRate(x, unit) {
  const v = !Number.isFinite(x) || x <= 0 ? "0" : x < 10 ? x.toFixed(1).replace(/\.0$/, "") : String(Math.round(x));
  return `${v} ${unit}`;
}
