// Lanes in a link: the lane set's replay (docs/protocol.md §11, `export` / `reset.replay`),
// trimmed to what it must replay, deflated and base64url-encoded into `?replay=`.
// A link is at most MAX_LINK_CHARS long (what every browser and proxy on the way keeps); a
// replay that does not fit, or would train more than the server's max_replay_iterations,
// becomes the lanes' current settings from iteration 0 (`fromStart`), and the page says so.

import { diffPatch } from "./state.js";

export const MAX_LINK_CHARS = 8000;

const toB64url = (bytes) => {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const fromB64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** A replay as link text (JSON, deflate-raw, base64url); `edits`, the page's changes from the
 * preset (presetEdits.js toLink), ride along so that the link says "modified" again. */
export async function encodeReplay(replay, edits = []) {
  const json = new TextEncoder().encode(JSON.stringify(edits.length ? { ...replay, page_edits: edits } : replay));
  return toB64url(await pipe(json, new CompressionStream("deflate-raw")));
}

/** Link text back to {replay, edits} (the replay as the server takes it back); throws with a
 * reason when it is not one. */
export async function decodeReplay(text) {
  let bytes;
  try { bytes = await pipe(fromB64url(text), new DecompressionStream("deflate-raw")); } catch { throw new Error("the replay is damaged"); }
  const { page_edits: edits = [], ...replay } = JSON.parse(new TextDecoder().decode(bytes)) || {};
  if (!Array.isArray(replay.lanes)) throw new Error("not a lane replay");
  return { replay, edits };
}

/** The iteration a lane must replay to: its last command, its fork point (a halted lane: all). */
function needed(lane, halted) {
  if (halted) return lane.iterations;
  let k = lane.forked ? lane.forked.at : 0;
  for (const [at] of lane.commands || []) k = Math.max(k, at);
  return k;
}

/**
 * The replay a link holds: every lane replays only as far as its last change or fork
 * (then the same training follows, bit for bit), keeping the lanes' offsets where it can.
 * Returns {replay, upTo, changes} or null when it would train more than `limit` iterations.
 * `halted`: the ids of halted lanes (they replay into their halt).
 */
export function linkReplay(replay, limit, halted = new Set()) {
  const need = replay.lanes.map((l) => needed(l, halted.has(l.id)));
  const most = Math.max(...replay.lanes.map((l) => l.iterations));
  const shift = most - Math.max(...need);
  const lanes = replay.lanes.map((l, i) => ({ ...l, iterations: Math.max(need[i], l.iterations - shift) }));
  const work = lanes.reduce((a, l) => a + l.iterations, 0);
  if (work > limit) return null;
  const changes = lanes.reduce((a, l) => a + (l.commands || []).filter(([, kind]) => kind === "update").length + (l.forked ? 1 : 0), 0);
  return { replay: { ...replay, lanes }, upTo: Math.max(...lanes.map((l) => l.iterations)), changes };
}

/** The lanes' current settings from iteration 0 (the warm-up kept): what a link holds when
 * the exact replay does not fit. configs: each lane's full config, in lane order. */
export function fromStart(replay, configs) {
  const first = configs[0];
  return {
    ...replay,
    base: first,
    lanes: replay.lanes.map((l, i) => {
      const warmup = (l.commands || []).filter(([at, kind]) => at === 0 && kind !== "update");
      return { id: l.id, title: l.title, start: i === 0 ? {} : diffPatch(first, configs[i]), forked: null, commands: warmup, iterations: 0 };
    }),
  };
}
