// The lanes of a session as the page knows them (docs/protocol.md, lanes): one entry per
// lane with its config, its newest frame and its metrics history, and the words that say
// what a lane is: what differs from lane 1 ("loss: minimax", "+ r1 gamma 1").

import { MetricsHistory } from "./metrics.js";
import { flatten, deepEqual } from "./state.js";

/** Lane colours by position: lane 1 is the reference (ink), then three that are neither the
 * real green, the fake purple nor the push orange of the views. */
export const LANE_COLORS = ["#1d1f24", "#1f5fbf", "#c2185b", "#8a6d00"];

export class Lane {
  constructor(id) {
    this.id = id;
    this.title = "";         // the server's title ("" when the lane has none)
    this.config = null;      // its TrainConfig (last confirmed)
    this.start = {};         // its start patch against the session's base
    this.forked = null;      // {lane, at, patch, reset_moments} when it is a fork
    this.iteration = 0;
    this.halt = null;
    this.latest = null;      // newest frame received
    this.rendered = null;    // frame last drawn
    this.prev = null;        // the frame received before `latest` (for the faded step picture)
    this.history = new MetricsHistory();
    this.spectrum = null;    // newest spectrum event (view.spectrum), null after a reset
    this.received = 0;       // frames received
    this.drawn = 0;          // frames drawn
  }
}

const fmtValue = (v) => {
  if (typeof v === "number") return String(+v.toPrecision(4));
  if (Array.isArray(v)) return v.length ? v.map(fmtValue).join(",") : "none";
  return String(v);
};

function regWords(r) {
  const name = r.kind.replace(/_/g, " ");
  return r.weight === undefined || r.weight === null ? name : `${name} ${fmtValue(r.weight)}`;
}

/** What a config changes against a reference, in words: "loss: minimax", "+ r1 10", "− gp". */
export function describeDiff(ref, cfg) {
  if (!ref || !cfg) return [];
  const out = [];
  const a = flatten(ref), b = flatten(cfg);
  for (const key of Object.keys(b)) {
    if (key === "regularizers" || key === "seed") continue;
    if (!deepEqual(a[key], b[key])) out.push(`${key.replace(/^opt_([dg])\./, "$1 ")}: ${fmtValue(b[key])}`);
  }
  const before = new Map((ref.regularizers || []).map((r) => [r.kind, r]));
  const after = new Map((cfg.regularizers || []).map((r) => [r.kind, r]));
  for (const [k, r] of after) {
    if (!before.has(k)) out.push(`+ ${regWords(r)}`);
    else if (!deepEqual(before.get(k), r)) out.push(`${regWords(r)}`);
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`− ${k.replace(/_/g, " ")}`);
  return out;
}

/** A lane's title: the server's, else what differs from lane 1 (lane 1: "reference"). */
export function laneTitle(lane, first) {
  if (lane.title) return lane.title;
  if (!first || lane === first) return "reference";
  const words = describeDiff(first.config, lane.config);
  return words.length ? words.join(", ") : "same settings";
}

/** What a fork is: "fork of lane 1 at 1,200". */
export function forkWords(lane, position) {
  if (!lane.forked) return "";
  const from = position(lane.forked.lane);
  return `fork of lane ${from ?? "?"} at ${Number(lane.forked.at).toLocaleString("en-US")}`;
}
