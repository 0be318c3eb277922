// What rebuilds the run when the server that held the session is gone: behind a proxy with
// several replicas (docs/deploy.md), a resume that reaches another replica gets a new session
// whose hello says `lost.reason: "replica_gone"` (docs/protocol.md §6). The page keeps the
// lane set's replay (`export`, §11) in memory and sends it back with `reset {replay}`, which
// rebuilds every lane bit for bit at the exported iterations.
//
// Kept: one replay, the newest, with the lanes' configs of that moment (a restart from
// iteration 0 needs them). It is fetched every KEEP_SECONDS while the run changed since the
// last one (its iterations or its version: a live change, a lane made or closed, a reset),
// so a rebuild loses at most the last KEEP_SECONDS of training, and says from where it goes on.

import { fromStart } from "./link.js";

export const KEEP_SECONDS = 3;

export class ReplayKeeper {
  /**
   * exportReplay(): the session's replay (rejects when offline);
   * current(): {key, configs}: a key that changes whenever the run does (null: keep
   * nothing, no replicas), and each lane's config in lane order.
   */
  constructor(exportReplay, current) {
    this.exportReplay = exportReplay;
    this.current = current;
    this.kept = null;       // {replay, configs}
    this.keptKey = null;
    this.asking = false;    // an export is on its way
    this.timer = setInterval(() => this.refresh(), KEEP_SECONDS * 1000);
  }

  async refresh() {
    const { key, configs } = this.current();
    // one export at a time: behind a long step or replay, commands wait (at most 32)
    if (key === null || key === this.keptKey || this.asking) return;
    this.asking = true;
    let replay = null;
    try { replay = await this.exportReplay(); } catch { /* offline: keep the last */ }
    this.asking = false;
    if (!replay || !Array.isArray(replay.lanes)) return;
    this.kept = { replay, configs };
    this.keptKey = key;
  }

  /** The kept replay, taken (the next refresh keeps the session it is sent to), or null. */
  take() {
    const kept = this.kept;
    this.kept = null;
    this.keptKey = null;
    return kept;
  }
}

/**
 * The reset that rebuilds a kept run, and what to tell meanwhile and when it is done: the
 * replay itself when the server may replay it (at most `limit` iterations over its lanes:
 * limits.max_replay_iterations), else the lanes' settings of that moment from iteration 0
 * (link.js fromStart).
 */
export function rebuildReset({ replay, configs }, limit) {
  const work = replay.lanes.reduce((sum, lane) => sum + lane.iterations, 0);
  const one = replay.lanes.length === 1;
  const [what, it] = one ? ["your run", "it"] : [`your ${replay.lanes.length} lanes`, "them"];
  const gone = `The server that ran ${what} went away`;
  if (work <= limit) {
    const at = replay.lanes[0].iterations.toLocaleString("en-US");
    return {
      body: { replay },
      toast: `Rebuilt at iteration ${at}`,
      rebuilding: `${gone}; rebuilding ${it} on another server from iteration ${at}…`,
      says: `${gone}; rebuilt ${it} on another server from iteration ${at}, as ${one ? "it was" : "they were"} there (the page keeps a copy every ${KEEP_SECONDS} s; training after the last copy is lost). Press play to go on.`,
    };
  }
  return {
    body: { replay: fromStart(replay, configs) },
    toast: "Restarted from iteration 0 with the same settings",
    rebuilding: `${gone}; restarting ${it} on another server from iteration 0…`,
    says: `${gone}; restarted ${it} from iteration 0 with the same settings on another server (replaying ${work.toLocaleString("en-US")} iterations is more than a server replays, ${limit.toLocaleString("en-US")}). Press play to go on.`,
  };
}
