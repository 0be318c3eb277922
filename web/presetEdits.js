// Does the run on screen still match the preset it was loaded from? (issue 15)
//
// Every change made to the preset's settings is kept here, by lane and setting, from the
// preset's value to the current one (a change back removes it). The run is then
//  - "preset": as the preset made it (try-next lanes, forks and resets included);
//  - "modified": only numbers changed (a learning rate, a penalty's weight, d_steps, the
//    batch size, the seed): the note still describes what is on screen, and the panel names
//    the changes;
//  - "custom": the data (the dataset or any setting of the target) or the method changed (the
//    loss, which regularizers are on, the optimizer, the architecture: any setting that is not
//    a number): the note no longer describes what is on screen.

import { flatten, getPath, deepEqual, clone } from "./state.js";

const kinds = (regs) => (regs || []).map((r) => r.kind).sort().join(",");

/** Is changing `path` from `from` to `to` a change of the data or the method? */
export function isCustom(path, from, to) {
  if (path === "dataset" || path === "target" || path.startsWith("target.")) return true;
  if (path === "regularizers") return kinds(from) !== kinds(to);
  return !(typeof from === "number" && typeof to === "number");
}

export class PresetEdits {
  constructor() { this.changes = new Map(); }   // "lane:path" -> {lane, path, from, to, custom}

  clear() { this.changes.clear(); }

  /** `patch` applied to lane `lane` whose config was `config` before it. */
  record(lane, config, patch) {
    for (const [path, to] of Object.entries(flatten(patch))) {
      const key = `${lane}:${path}`;
      const from = this.changes.has(key) ? this.changes.get(key).from : clone(getPath(config, path));
      if (deepEqual(from, to)) this.changes.delete(key);
      else this.changes.set(key, { lane, path, from, to: clone(to), custom: isCustom(path, from, to) });
    }
  }

  /** The changes as a link keeps them: [[lane position (1-based), path, from, to], ...];
   * `positions` maps a lane id to its position (lane ids are the session's own). */
  toLink(positions) {
    return [...this.changes.values()].map((c) => [positions(c.lane), c.path, c.from, c.to]);
  }

  /** The changes a link kept (toLink), on the lanes rebuilt from it; `ids` maps a position
   * to the lane's id now. Anything that is not such a list is ignored. */
  fromLink(list, ids) {
    this.clear();
    if (!Array.isArray(list)) return;
    for (const item of list) {
      if (!Array.isArray(item) || item.length !== 4 || typeof item[1] !== "string") continue;
      const [pos, path, from, to] = item;
      const lane = ids(pos);
      if (lane == null) continue;
      this.changes.set(`${lane}:${path}`, { lane, path, from, to, custom: isCustom(path, from, to) });
    }
  }

  /** "preset", "modified" or "custom". */
  get status() {
    const all = [...this.changes.values()];
    return all.some((c) => c.custom) ? "custom" : all.length ? "modified" : "preset";
  }

  /** The changes, as the panel lists them: "opt_d.lr 0.001 → 0.002" (with the lane when
   * there are several). */
  describe(multi = false) {
    const show = (v) => (Array.isArray(v) && v.every((r) => r && r.kind) ? v.map((r) => `${r.kind}${r.weight !== undefined ? ` ${r.weight}` : ""}`).join(" + ") || "none"
      : Array.isArray(v) ? `[${v.join(", ")}]` : String(v));
    return [...this.changes.values()].map((c) => `${multi ? `lane ${c.lane}: ` : ""}${c.path} ${show(c.from)} → ${show(c.to)}`);
  }
}
