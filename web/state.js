// The page's whole state and its round trip through the URL.
//
// The URL holds only what differs from the base (the preset's config when a preset is
// loaded, else the schema defaults), so a shared link stays short and readable:
//   ?dataset=grid25&loss=hinge&reg=gp:0.1,r1:2&opt_d.lr=0.0002&g_hidden=128,128&seed=3
//   &pts=0.5_1.25,-1_0.3   (target.points)   &view=contours,trails   &lecture=1&hide=optimizer,seed
// Config keys are dotted paths of TrainConfig; lists of numbers are comma-joined.

/** The view's layers and options, on or off (GAN Lab's layer toggles): the one list of them.
 * Each is a checkbox `#opt-NAME` in the #view-options row and, where it differs from this
 * default, a word of `view=` in the URL. d: the D surface (2D) or the D(x) line (1D);
 * real / fake: the samples; arrows: the push on the fakes; field, trails, manifold,
 * contours: 2D only; spectrum: the spectrum panel. */
export const VIEW_DEFAULTS = { d: true, real: true, fake: true, arrows: true, field: false, trails: false, manifold: false, contours: false, spectrum: false };
export const VIEW_FLAGS = Object.keys(VIEW_DEFAULTS);
/** Speeds: the pace command each one sends (protocol §4). */
export const SPEEDS = {
  motion: { label: "slow motion", pace: { slow_motion: 0.5, fps: 2, steps_per_frame: 0 } },
  slow: { label: "slow (10 it/s)", pace: { slow_motion: 0, fps: 10, steps_per_frame: 1 } },
  normal: { label: "normal", pace: { slow_motion: 0, fps: 30, steps_per_frame: 4 } },
  fast: { label: "fast", pace: { slow_motion: 0, fps: 30, steps_per_frame: 20 } },
  max: { label: "fastest", pace: { slow_motion: 0, fps: 30, steps_per_frame: 0 } },
};

export const state = {
  config: null,        // the TrainConfig the server runs (last confirmed), plain object
  defaults: null,      // TrainConfig defaults from the schema
  base: null,          // what the URL is a diff against (preset config or defaults)
  pending: {},         // reset-only changes waiting for a reset: {field: value}
  view: { ...VIEW_DEFAULTS },
  speed: "normal",
  lecture: false,
  hide: [],
  show: [],
  preset: null,        // preset name or null
  replayParam: null,   // the lanes' replay as link text (link.js), when the session has lanes
  linkReplay: null,    // the replay a link brought, until the session has rebuilt it
  linkEdits: [],       // the changes from the preset that link kept (presetEdits.js toLink)
  play: false,         // start playing on load (?play=1)
};

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

export function clone(v) { return v === undefined ? v : JSON.parse(JSON.stringify(v)); }

export function deepEqual(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

/** Deep merge like gan_core.config.merge: dicts merge, lists and scalars replace. */
export function merge(base, patch) {
  const out = { ...(base || {}) };
  for (const [k, v] of Object.entries(patch || {})) {
    out[k] = isObj(v) && isObj(out[k]) ? merge(out[k], v) : clone(v);
  }
  return out;
}

/** The smallest patch that `merge(a, patch)` turns into b (objects recursed, the rest whole). */
export function diffPatch(a, b) {
  const out = {};
  for (const [k, v] of Object.entries(b || {})) {
    if (isObj(v) && isObj(a?.[k])) {
      const sub = diffPatch(a[k], v);
      if (Object.keys(sub).length) out[k] = sub;
    } else if (!deepEqual(a?.[k], v)) out[k] = clone(v);
  }
  return out;
}

/** Set a dotted path inside a nested object, creating objects on the way. */
export function setPath(obj, path, value) {
  const parts = path.split(".");
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!isObj(o[parts[i]])) o[parts[i]] = {};
    o = o[parts[i]];
  }
  o[parts[parts.length - 1]] = value;
  return obj;
}

export function getPath(obj, path) {
  let o = obj;
  for (const p of path.split(".")) { if (o == null) return undefined; o = o[p]; }
  return o;
}

/** A patch object {a: {b: v}} from a dotted path and value. */
export function patchOf(path, value) { return setPath({}, path, value); }

// ---------- encoding of single values ----------
const fmt = (x) => (typeof x === "number" ? String(+x.toPrecision(6)) : String(x));

function encodeRegs(regs) {
  return (regs || []).map((r) => {
    const parts = [r.kind];
    if (r.weight !== undefined && r.weight !== null) parts.push(fmt(r.weight));
    for (const [k, v] of Object.entries(r)) {
      if (k !== "kind" && k !== "weight" && v !== null && v !== undefined) parts.push(`${k}=${fmt(v)}`);
    }
    return parts.join(":");
  }).join(",");
}

function decodeRegs(s) {
  if (!s) return [];
  return s.split(",").filter(Boolean).map((item) => {
    const [kind, ...rest] = item.split(":");
    const r = { kind };
    for (const p of rest) {
      if (p.includes("=")) { const [k, v] = p.split("="); r[k] = num(v); } else if (p !== "") r.weight = num(p);
    }
    return r;
  });
}

const num = (s) => { const x = Number(s); return Number.isFinite(x) && s !== "" ? x : s; };

function encodePoints(pts) { return (pts || []).map(([x, y]) => `${+x.toFixed(3)}_${+y.toFixed(3)}`).join(","); }
function decodePoints(s) {
  if (!s) return [];
  return s.split(",").filter(Boolean).map((p) => p.split("_").map(Number)).filter((p) => p.length === 2 && p.every(Number.isFinite));
}

/** Flatten a config into {dotted path: leaf} (arrays are leaves). */
export function flatten(obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObj(v)) flatten(v, key, out); else out[key] = v;
  }
  return out;
}

// ---------- URL <-> state ----------
const RESERVED = new Set(["lecture", "hide", "show", "preset", "view", "speed", "play", "reg", "pts", "session", "replay"]);

/** Build the query string for the current state (config = what should be reproduced). */
export function toQuery(st = state) {
  const q = [];
  const add = (k, v) => q.push(`${k}=${encodeURIComponent(v).replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%3D/g, "=")}`);
  if (st.preset) add("preset", st.preset);
  // lanes: their replay holds every config (link.js); the preset only names the session
  if (st.replayParam) q.push(`replay=${st.replayParam}`);
  const cfg = st.replayParam ? {} : merge(st.config || {}, st.pending || {});
  const base = st.base || st.defaults || {};
  const flat = flatten(cfg);
  const flatBase = flatten(base);
  for (const [k, v] of Object.entries(flat)) {
    // a value whose default is unknown (not in the schema) is always written
    if (k === "regularizers") {
      if (!(k in flatBase) || !deepEqual(v, flatBase[k])) add("reg", encodeRegs(v) || "none");
    } else if (k === "target.points") {
      if (!deepEqual(v, flatBase[k] || [])) add("pts", encodePoints(v));
    } else if (!deepEqual(v, flatBase[k]) || (k === "dataset" && !st.preset && !st.replayParam)) {
      // without a preset the dataset is always named: an address with no config at all
      // means "the server's default preset", which is another base
      add(k, Array.isArray(v) ? v.map(fmt).join(",") : fmt(v));
    }
  }
  const flags = VIEW_FLAGS.filter((f) => st.view[f] !== VIEW_DEFAULTS[f]).map((f) => (st.view[f] ? f : `-${f}`));
  if (flags.length) add("view", flags.join(","));
  if (st.speed !== "normal") add("speed", st.speed);
  if (st.lecture) add("lecture", "1");
  if (st.hide.length) add("hide", st.hide.join(","));
  if (st.show.length) add("show", st.show.join(","));
  if (st.play) add("play", "1");
  return q.length ? `?${q.join("&")}` : "";
}

/**
 * Read the URL into page options and a config patch.
 * `typeOf(path)` tells how to read a config value: "number" | "integer" | "string" | "boolean"
 * | "array" | null (unknown keys are returned in `unknown` so the page can say so).
 */
export function fromQuery(search, typeOf) {
  const params = new URLSearchParams(search);
  const out = { patch: {}, view: { ...VIEW_DEFAULTS }, speed: "normal", lecture: false, hide: [], show: [], preset: null, play: false, unknown: [] };
  const list = (s) => (s || "").split(",").map((x) => x.trim()).filter(Boolean);
  for (const [k, v] of params) {
    if (k === "lecture") out.lecture = v !== "0" && v !== "false";
    else if (k === "hide") out.hide.push(...list(v));
    else if (k === "show") out.show.push(...list(v));
    else if (k === "preset") out.preset = v || null;
    else if (k === "play") out.play = v !== "0" && v !== "false";
    else if (k === "speed") { if (v in SPEEDS) out.speed = v; }
    else if (k === "view") {
      for (const f of list(v)) {
        const off = f.startsWith("-");
        const name = off ? f.slice(1) : f;
        if (VIEW_FLAGS.includes(name)) out.view[name] = !off;
      }
    } else if (k === "reg") setPath(out.patch, "regularizers", v === "none" ? [] : decodeRegs(v));
    else if (k === "pts") setPath(out.patch, "target.points", decodePoints(v));
    else if (!RESERVED.has(k)) {
      const t = typeOf ? typeOf(k) : null;
      if (!t) { out.unknown.push(k); continue; }
      let value;
      if (t === "array") value = list(v).map(num);
      else if (t === "number" || t === "integer") value = num(v);
      else if (t === "boolean") value = v === "1" || v === "true";
      else value = v;
      setPath(out.patch, k, value);
    }
  }
  return out;
}

/** Keep the address bar in step with the state, without adding history entries. */
let urlTimer = null;
export function syncUrl(st = state) {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(() => {
    const q = toQuery(st);
    const url = `${location.pathname}${q}${location.hash}`;
    if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(null, "", url);
  }, 150);
}

export function shareUrl(st = state) {
  return `${location.origin}${location.pathname}${toQuery(st)}`;
}

/** Dimension of a dataset by name: 1 (…1d), "dirac", else 2. */
export function kindOfDataset(name) {
  if (name === "dirac") return "dirac";
  return /1d$/.test(name || "") ? "1d" : "2d";
}
