// The settings panel, built from GET /api/schema: TrainConfig's JSON Schema plus the
// registered losses and regularizers. A plug-in loss or regularizer appears here without
// touching this file. Every control carries names (its dotted path, its group, aliases)
// so that ?hide=... / ?show=... can strip the page down for a lecture.

import { getPath, patchOf, clone } from "./state.js";
import { uploadLimits } from "./upload.js";


const LABELS = {
  dataset: "Target", loss: "Loss", d_steps: "D updates per iteration", g_steps: "G updates per iteration",
  update_scheme: "Update scheme", batch_size: "Batch size", z_dim: "Latent dimension", noise: "Latent noise",
  g_hidden: "G hidden layers", d_hidden: "D hidden layers", activation: "Activation", seed: "Seed",
  dirac_init: "Start (θ, ψ)", name: "Optimizer", lr: "Learning rate", betas: "Adam β1, β2", momentum: "Momentum",
  mean: "Mean", std: "Std", means: "Means", stds: "Stds", weights: "Weights", separation: "Separation",
  point_std: "Blur of each point", points: "Points", values: "Values", discriminator: "D shape", ebgan_margin: "EBGAN margin m",
  pack: "PacGAN: samples per D input", minibatch_stddev: "Minibatch stddev",
};
const DATASET_LABELS = {
  gaussian1d: "1D · Gaussian", mixture1d: "1D · mixture of Gaussians", separated1d: "1D · far-apart Gaussian",
  dirac: "Dirac-GAN (θ, ψ)", ring8: "2D · ring of 8 Gaussians", grid25: "2D · grid of 25 Gaussians",
  swissroll: "2D · swiss roll", moons: "2D · two moons", spiral: "2D · spiral", points: "2D · draw your own points",
  points1d: "1D · your own values (upload)",
};

/** Accept the few shapes /api/schema may take and return one. */
export function normalizeSchema(raw) {
  const config = raw.config || raw.schema || raw.train_config || raw.TrainConfig || (raw.properties ? raw : {});
  const byName = (x) => {
    if (!x) return {};
    if (Array.isArray(x)) return Object.fromEntries(x.map((e) => [e.name, e]));
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, { name: k, ...v }]));
  };
  const losses = byName(raw.losses);
  const regularizers = byName(raw.regularizers);
  const props = config.properties || {};
  if (!Object.keys(losses).length && props.loss?.enum) for (const n of props.loss.enum) losses[n] = { name: n };
  return {
    config,
    losses,
    regularizers,
    resetOnly: raw.reset_only,
    limits: raw.limits || {},
    views: raw.views || raw.view_options || null,
  };
}

function resolve(schema, node) {
  if (node && node.$ref) {
    const name = node.$ref.split("/").pop();
    return { ...(schema.$defs || schema.definitions || {})[name], ...node, $ref: undefined };
  }
  if (node && node.allOf && node.allOf.length === 1) return { ...resolve(schema, node.allOf[0]), ...node, allOf: undefined };
  return node || {};
}

/** Defaults of the config from the schema (pydantic puts them on each property). */
export function schemaDefaults(schema) {
  const walk = (node) => {
    node = resolve(schema, node);
    if (node.type === "object" || node.properties) {
      const out = {};
      for (const [k, p] of Object.entries(node.properties || {})) {
        const r = resolve(schema, p);
        if ("default" in p) out[k] = clone(p.default);
        else if ("default" in r && !(r.properties)) out[k] = clone(r.default);
        else if (r.properties) out[k] = walk(r);
      }
      return out;
    }
    return node.default;
  };
  return walk(schema);
}

/** Type of a dotted config path per the schema: number | integer | string | boolean | array | null. */
export function typeOfPath(schema, path) {
  let node = resolve(schema, schema);
  for (const part of path.split(".")) {
    node = resolve(schema, (node.properties || {})[part]);
    if (!node || !Object.keys(node).length) return null;
  }
  if (node.enum) return "string";
  if (node.type) return node.type;
  if (node.anyOf) return (node.anyOf.find((t) => t.type && t.type !== "null") || {}).type || null;
  return null;
}

// ---------- words a student understands ----------
export function friendlyMessage(label, message) {
  let m = String(message || "is not allowed").trim();
  const rules = [
    [/^Input should be less than or equal to (.+)$/i, "must be at most $1"],
    [/^Input should be greater than or equal to (.+)$/i, "must be at least $1"],
    [/^Input should be greater than (.+)$/i, "must be more than $1"],
    [/^Input should be less than (.+)$/i, "must be less than $1"],
    [/^Input should be a valid integer.*$/i, "must be a whole number"],
    [/^Input should be a valid number.*$/i, "must be a number"],
    [/^Input should be (.+)$/i, "must be $1"],
    [/^List should have at most (\d+) items?.*$/i, "can have at most $1 entries"],
    [/^List should have at least (\d+) items?.*$/i, "needs at least $1 entries"],
    [/changes the models; it applies on reset.*$/i, "changes the networks, so it takes effect when you press Reset"],
    [/needs other models; it applies on reset.*$/i, "needs new networks, so it takes effect when you press Reset"],
  ];
  for (const [re, rep] of rules) if (re.test(m)) { m = m.replace(re, rep); break; }
  return `${label} ${m}${/[.!?]$/.test(m) ? "" : "."}`;
}

// ---------- small DOM helpers ----------
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid != null) e.append(kid);
  return e;
}

const fmtNum = (x) => {
  if (x === null || x === undefined || x === "") return "";
  const v = Number(x);
  if (!Number.isFinite(v)) return String(x);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(1).replace("e-", "e−");
  return String(+v.toPrecision(4));
};

let uid = 0;

/**
 * Build the panel into `container`.
 * cb.onPatch(patch, info) — a live change; cb.onPending(path, value) — a reset-only change;
 * cb.onDataset(name) — a change of target; cb.onClearPoints(); cb.onUpload(file) — a data
 * file picked (upload.js reads it)
 */
export function buildControls(container, schemaInfo, cb) {
  const schema = schemaInfo.config;
  const props = resolve(schema, schema).properties || {};
  const controls = [];   // {path, names:Set, root, set(config), error}
  let current = {};

  container.replaceChildren();

  const register = (ctl) => { controls.push(ctl); return ctl; };

  function ctlShell(path, label, names, { help, resetOnly } = {}) {
    const id = `c${++uid}`;
    const root = el("div", { class: "ctl", "data-path": path, "data-names": [...names].join(" ") });
    const head = el("div", { class: "ctl-head" },
      el("label", { class: "ctl-label", for: id, text: label }),
      resetOnly ? el("span", { class: "badge", title: "takes effect when the run is reset", text: "on reset" }) : null,
      el("span", { class: "value" }));
    const error = el("div", { class: "error", role: "alert", "data-error-for": path });
    root.append(head);
    return { id, root, head, error, valueEl: head.querySelector(".value"), help };
  }

  function finish(shell) {
    if (shell.help) shell.root.append(el("div", { class: "help", text: shell.help }));
    shell.root.append(shell.error);
    return shell.root;
  }

  const send = (path, value) => {
    const top = path.split(".")[0];
    if (schemaInfo.resetOnly.includes(top)) cb.onPending(path, value);
    else if (path === "dataset") cb.onDataset(value);
    else cb.onPatch(patchOf(path, value), { path });
  };

  // --- a select from an enum ---
  function selectControl(path, node, names, { labels = {}, help, describe } = {}) {
    const label = LABELS[path.split(".").pop()] || node.title || path;
    const resetOnly = schemaInfo.resetOnly.includes(path.split(".")[0]);
    const s = ctlShell(path, label, names, { help: help ?? node.description, resetOnly });
    const select = el("select", { id: s.id, "data-path": path });
    for (const v of node.enum || []) select.append(el("option", { value: v, text: labels[v] || v }));
    const extra = el("div", { class: "formula" });
    const info = el("div", { class: "help" });
    select.addEventListener("change", () => send(path, select.value));
    s.root.append(select);
    if (describe) s.root.append(info, extra);
    const set = (cfg) => {
      const v = getPath(cfg, path);
      if (v !== undefined && document.activeElement !== select) select.value = v;
      if (describe) {
        const d = describe(select.value) || {};
        info.textContent = d.description || "";
        extra.textContent = d.formula || "";
        extra.hidden = !d.formula;
      }
    };
    finish(s);
    return register({ path, names, root: s.root, error: s.error, set, input: select });
  }

  // --- your own data from a file (upload.js): a button over a file input ---
  function uploadControl() {
    const path = "target.upload";
    const { maxPoints, lo, hi } = uploadLimits(schema);
    const s = ctlShell(path, "Your own data", new Set(["target", "upload", "data"]), {
      help: `A CSV of 2D points (x,y a line) or 1D values (one a line), or JSON [[x, y], …] / [x, …]: up to ${maxPoints}, each in [${lo}, ${hi}], kept to 3 decimals.`,
    });
    const input = el("input", { id: "upload-file", type: "file", accept: ".csv,.json,.txt,text/csv,application/json,text/plain", hidden: true });
    input.addEventListener("change", () => { const f = input.files[0]; input.value = ""; if (f) cb.onUpload(f); });
    s.root.append(input, el("button", { type: "button", id: "upload-button", text: "Upload CSV / JSON…", onclick: () => input.click() }));
    finish(s);
    return register({ path, names: new Set(["target", "upload"]), root: s.root, error: s.error, set: () => {} });
  }

  // --- a yes/no option: a checkbox ---
  function checkboxControl(path, node, names) {
    const label = LABELS[path.split(".").pop()] || node.title || path;
    const resetOnly = schemaInfo.resetOnly.includes(path.split(".")[0]);
    const s = ctlShell(path, label, names, { help: node.description, resetOnly });
    const box = el("input", { id: s.id, type: "checkbox", "data-path": path });
    box.addEventListener("change", () => send(path, box.checked));
    s.head.prepend(box);
    const set = (cfg) => { const v = getPath(cfg, path); if (v !== undefined) box.checked = Boolean(v); };
    finish(s);
    return register({ path, names, root: s.root, error: s.error, set, input: box });
  }

  // --- a number: slider (linear or log) + exact input ---
  function numberControl(path, node, names, opts = {}) {
    const label = opts.label || LABELS[path.split(".").pop()] || node.title || path;
    const resetOnly = schemaInfo.resetOnly.includes(path.split(".")[0]);
    const s = ctlShell(path, label, names, { help: opts.help ?? node.description, resetOnly });
    const integer = node.type === "integer";
    let lo = node.minimum ?? (node.exclusiveMinimum !== undefined ? node.exclusiveMinimum : 0);
    let hi = node.maximum ?? node.exclusiveMaximum ?? (integer ? 100 : 1);
    if (opts.range) [lo, hi] = opts.range;
    const log = opts.log ?? (lo > 0 ? hi / lo >= 100 : false);
    const sliderLo = log ? Math.max(lo, opts.logMin ?? 1e-6) : lo;
    const STEPS = 1000;
    const toSlider = (v) => {
      v = Math.min(Math.max(v, sliderLo), hi);
      return log ? (Math.log10(v / sliderLo) / Math.log10(hi / sliderLo)) * STEPS : ((v - lo) / (hi - lo || 1)) * STEPS;
    };
    const fromSlider = (t) => {
      let v = log ? sliderLo * Math.pow(hi / sliderLo, t / STEPS) : lo + (t / STEPS) * (hi - lo);
      if (integer) v = Math.round(v);
      else v = +v.toPrecision(log ? 2 : 3);
      return v;
    };
    const row = el("div", { class: "row-num" });
    const slider = opts.noSlider ? null : el("input", { type: "range", min: 0, max: STEPS, step: 1, "aria-label": label, "data-path": path });
    const input = el("input", { id: s.id, type: "number", step: "any", inputmode: "decimal", "data-path": path, "aria-label": `${label} (exact value)` });
    if (slider) {
      slider.addEventListener("input", () => { const v = fromSlider(+slider.value); input.value = v; s.valueEl.textContent = fmtNum(v); });
      slider.addEventListener("change", () => (opts.onSend || send)(path, fromSlider(+slider.value)));
    }
    input.addEventListener("change", () => {
      const raw = input.value.trim();
      const v = raw === "" ? NaN : Number(raw);
      if (!Number.isFinite(v)) { showErrorOn(opts.errorPath || path, `${label} must be a number.`); return; }
      (opts.onSend || send)(path, v);
    });
    if (slider) row.append(slider);
    row.append(input);
    if (opts.after) row.append(opts.after);
    s.root.append(row);
    const set = (cfg) => {
      const v = getPath(cfg, path);
      if (v === undefined || v === null) return;
      if (slider && document.activeElement !== slider) slider.value = toSlider(v);
      if (document.activeElement !== input) input.value = v;
      s.valueEl.textContent = fmtNum(v);
    };
    finish(s);
    return register({ path, names, root: s.root, error: s.error, set, input });
  }

  // --- a list of numbers as text: "64, 64, 64" ---
  function listControl(path, node, names, opts = {}) {
    const label = opts.label || LABELS[path.split(".").pop()] || node.title || path;
    const resetOnly = schemaInfo.resetOnly.includes(path.split(".")[0]);
    const s = ctlShell(path, label, names, { help: opts.help ?? node.description, resetOnly });
    const input = el("input", { id: s.id, type: "text", "data-path": path, spellcheck: "false" });
    input.addEventListener("change", () => {
      const parts = input.value.split(/[\s,;]+/).filter(Boolean);
      const vals = parts.map(Number);
      if (vals.some((v) => !Number.isFinite(v))) { showErrorOn(path, `${label} must be numbers separated by commas.`); return; }
      send(path, vals);
    });
    s.root.append(input);
    const set = (cfg) => {
      const v = getPath(cfg, path);
      if (Array.isArray(v) && document.activeElement !== input) input.value = v.map((x) => +(+x).toPrecision(4)).join(", ");
    };
    finish(s);
    return register({ path, names, root: s.root, error: s.error, set, input });
  }

  const group = (title, names, { badge } = {}) => {
    const g = el("section", { class: "group", "data-names": names.join(" ") },
      el("h3", {}, title, badge ? el("span", { class: "badge", text: badge }) : null));
    container.append(g);
    return g;
  };

  // ===== target =====
  const gTarget = group("Target", ["target", "dataset", "data"]);
  const datasetNode = resolve(schema, props.dataset);
  gTarget.append(selectControl("dataset", datasetNode, new Set(["dataset", "target"]), { labels: DATASET_LABELS, help: "" }).root);
  gTarget.append(uploadControl().root);
  const targetNode = resolve(schema, props.target);
  const targetCtls = [];
  for (const [k, p0] of Object.entries(targetNode.properties || {})) {
    const p = resolve(schema, p0);
    const m = /^([a-z0-9_, ]+):\s*(.*)$/i.exec(p.description || "");
    const only = m ? m[1].split(/,\s*/) : null;   // the datasets that read this field
    const help = m ? m[2] : p.description;
    const path = `target.${k}`;
    const names = new Set(["target", path, k]);
    if (k === "points" || k === "values") {
      const drawn = k === "points";
      const s = ctlShell(path, drawn ? "Your points" : "Your values", names, {
        help: drawn ? "Click or drag on the plot to add points, then press Play." : "Upload a file of values (above) to change them.",
      });
      const count = el("span", { class: "count" });
      const clear = drawn ? el("button", { type: "button", text: "Clear points", onclick: () => cb.onClearPoints() }) : null;
      s.root.append(el("div", { class: "subtle-buttons" }, count, clear));
      finish(s);
      const ctl = register({ path, names, root: s.root, error: s.error, set: (cfg) => {
        const n = (getPath(cfg, path) || []).length;
        count.textContent = `${n} ${drawn ? "point" : "value"}${n === 1 ? "" : "s"}`;
      } });
      targetCtls.push({ ctl, only });
      gTarget.append(ctl.root);
      continue;
    }
    let ctl;
    if (p.type === "array") ctl = listControl(path, p, names, { help });
    else if (p.type === "number" || p.type === "integer") ctl = numberControl(path, p, names, { help });
    else if (p.enum) ctl = selectControl(path, p, names, { help });
    else continue;
    targetCtls.push({ ctl, only });
    gTarget.append(ctl.root);
  }
  let diracCtl = null;
  if (props.dirac_init) {
    diracCtl = listControl("dirac_init", resolve(schema, props.dirac_init), new Set(["dirac_init", "target"]), { help: "where (θ, ψ) start" });
    targetCtls.push({ ctl: diracCtl, only: ["dirac"] });
    gTarget.append(diracCtl.root);
  }

  // ===== loss =====
  const gLoss = group("Loss", ["loss"]);
  const lossNode = { ...resolve(schema, props.loss) };
  const lossNames = Object.keys(schemaInfo.losses);
  if (!lossNode.enum || lossNames.some((n) => !lossNode.enum.includes(n))) lossNode.enum = [...new Set([...(lossNode.enum || []), ...lossNames])];
  gLoss.append(selectControl("loss", lossNode, new Set(["loss"]), {
    help: "",
    labels: Object.fromEntries(lossNode.enum.map((n) => [n, schemaInfo.losses[n]?.label || n])),
    describe: (n) => schemaInfo.losses[n],
  }).root);

  // ===== regularizers =====
  const gReg = group("Regularizers", ["regularizers", "reg", "regularizer"]);
  const regRows = {};
  const regKinds = Object.keys(schemaInfo.regularizers);
  for (const kind of regKinds) {
    const info = schemaInfo.regularizers[kind];
    const names = new Set(["regularizers", "reg", kind, `reg.${kind}`]);
    const id = `r${++uid}`;
    const toggle = el("input", { type: "checkbox", id, "data-reg": kind });
    const root = el("div", { class: "reg", "data-path": `regularizers.${kind}`, "data-names": [...names].join(" ") },
      el("label", { class: "reg-head", for: id }, toggle, el("span", { text: info.label || kind.replace(/_/g, " ") })));
    const body = el("div", { class: "reg-body" });
    if (info.description) body.append(el("div", { class: "help", text: info.description }));
    if (info.formula) body.append(el("div", { class: "formula", text: info.formula }));
    const [wlo, whi] = info.weight_range || [0, 1000];
    const wNode = { type: "number", minimum: wlo, maximum: whi };
    const wPath = `regularizers.${kind}.weight`;
    const GREEK = { lambda: "λ", gamma: "γ", sigma: "σ", alpha: "α", beta: "β", c: "c" };
    const wLabel = info.weight_name ? GREEK[info.weight_name] || info.weight_name : "";
    const weightCtl = numberControl(wPath, wNode, new Set([...names, wPath]), {
      onSend: (p, v) => sendReg(p, v), errorPath: `regularizers.${kind}`,
      label: `strength ${wLabel}`, help: "", log: whi / Math.max(wlo, 1e-3) >= 100, logMin: wlo > 0 ? wlo : Math.min(1e-3, (info.default_weight || 1) / 100),
    });
    controls.pop(); // not a config path of its own: setConfig drives it through regRows
    body.append(weightCtl.root);
    const paramCtls = [];
    const pSchema = info.params_schema || info.params || null;
    if (pSchema && pSchema.properties) {
      for (const [pk, pn] of Object.entries(pSchema.properties)) {
        const c = numberControl(`regularizers.${kind}.${pk}`, pn, new Set([...names]), {
          label: pn.title || pk, help: pn.description, log: false, onSend: (p, v) => sendReg(p, v), errorPath: `regularizers.${kind}`,
        });
        controls.pop();
        paramCtls.push({ key: pk, ctl: c });
        body.append(c.root);
      }
    }
    const error = el("div", { class: "error", role: "alert", "data-error-for": `regularizers.${kind}` });
    root.append(body, error);
    gReg.append(root);
    regRows[kind] = { root, toggle, weightCtl, paramCtls, error, info };
    toggle.addEventListener("change", () => cb.onPatch({ regularizers: regListWith(kind, toggle.checked ? {} : null) }, { path: `regularizers.${kind}` }));
  }
  if (!regKinds.length) gReg.append(el("p", { class: "muted", text: "No regularizers are registered." }));
  // weight / param edits of a regularizer send the whole list (lists are replaced whole)
  function regListWith(kind, change) {
    const list = clone(current.regularizers || []);
    const i = list.findIndex((r) => r.kind === kind);
    if (change === null) { if (i >= 0) list.splice(i, 1); return list; }
    if (i >= 0) Object.assign(list[i], change);
    else list.push({ kind, weight: schemaInfo.regularizers[kind]?.default_weight ?? null, ...change });
    return list;
  }
  function sendReg(path, value) {
    const m = /^regularizers\.([^.]+)\.(.+)$/.exec(path);
    if (!m) return;
    cb.onPatch({ regularizers: regListWith(m[1], { [m[2]]: value }) }, { path: `regularizers.${m[1]}` });
  }

  // ===== optimizers =====
  const gOpt = group("Optimizers", ["optimizer", "optimizers", "opt"]);
  for (const [key, who] of [["opt_d", "D"], ["opt_g", "G"]]) {
    const node = resolve(schema, props[key]);
    if (!node.properties) continue;
    const names = (p) => new Set(["optimizer", key, `${key}.${p}`, p, `lr_${who.toLowerCase()}`]);
    const box = el("div", { class: "opt-box", "data-names": `optimizer ${key}` });
    box.append(el("div", { class: "ctl-sub", text: who === "D" ? "Discriminator / critic" : "Generator" }));
    const nameCtl = selectControl(`${key}.name`, resolve(schema, node.properties.name), names("name"), { help: "" });
    const lrCtl = numberControl(`${key}.lr`, resolve(schema, node.properties.lr), names("lr"), {
      label: `Learning rate ${who}`, help: "", log: true, range: [1e-5, 1], logMin: 1e-5,
    });
    box.append(nameCtl.root, lrCtl.root);
    if (node.properties.betas) {
      const c = listControl(`${key}.betas`, resolve(schema, node.properties.betas), names("betas"), { help: "" });
      c.onlyFor = "adam";
      box.append(c.root);
    }
    if (node.properties.momentum) {
      const c = numberControl(`${key}.momentum`, resolve(schema, node.properties.momentum), names("momentum"), { help: "", range: [0, 0.99] });
      c.onlyFor = "sgd rmsprop";
      box.append(c.root);
    }
    gOpt.append(box);
  }

  // ===== training =====
  const gTrain = group("Training", ["training", "steps"]);
  for (const k of ["d_steps", "g_steps", "update_scheme", "batch_size", "noise"]) {
    if (!props[k]) continue;
    const n = resolve(schema, props[k]);
    const names = new Set(["training", k, k.startsWith("d_") || k.startsWith("g_") ? "steps" : k]);
    const c = n.enum ? selectControl(k, n, names, {}) : numberControl(k, n, names, { log: k === "batch_size", help: n.description || "" });
    gTrain.append(c.root);
  }

  // ===== architecture (reset only) =====
  const gArch = group("Networks", ["architecture", "networks", "arch"], { badge: "on reset" });
  for (const k of ["z_dim", "g_hidden", "d_hidden", "activation", "discriminator", "pack", "minibatch_stddev"]) {
    if (!props[k]) continue;
    const n = resolve(schema, props[k]);
    const names = new Set(["architecture", k]);
    const c = n.enum ? selectControl(k, n, names, {}) : n.type === "array" ? listControl(k, n, names, {}) : n.type === "boolean" ? checkboxControl(k, n, names) : numberControl(k, n, names, { noSlider: false });
    gArch.append(c.root);
  }

  // ===== seed =====
  const gSeed = group("Seed", ["seed"], { badge: "on reset" });
  if (props.seed) {
    const dice = el("button", { type: "button", title: "a new random seed", text: "random", class: "dice", onclick: () => send("seed", Math.floor(Math.random() * 100000)) });
    const c = numberControl("seed", resolve(schema, props.seed), new Set(["seed"]), { noSlider: true, help: "same seed, same run", after: dice });
    gSeed.append(c.root);
  }

  // any other top-level fields a future schema adds: a generic control each
  const known = new Set(["dataset", "target", "loss", "regularizers", "opt_d", "opt_g", "d_steps", "g_steps", "update_scheme", "batch_size", "noise", "z_dim", "g_hidden", "d_hidden", "activation", "discriminator", "pack", "minibatch_stddev", "seed", "dirac_init"]);
  const extra = Object.keys(props).filter((k) => !known.has(k));
  if (extra.length) {
    const gx = group("More", ["more"]);
    for (const k of extra) {
      const n = resolve(schema, props[k]);
      const names = new Set([k, "more"]);
      if (n.enum) gx.append(selectControl(k, n, names).root);
      else if (n.type === "number" || n.type === "integer") gx.append(numberControl(k, n, names).root);
      else if (n.type === "array") gx.append(listControl(k, n, names).root);
      else if (n.type === "boolean") gx.append(checkboxControl(k, n, names).root);
    }
  }

  // ---------- public API ----------
  function showErrorOn(path, text) {
    clearErrors();
    const target = findControl(path);
    if (target) {
      target.error.textContent = text;
      target.root.classList.add("invalid");
      target.root.scrollIntoView?.({ block: "nearest" });
      return true;
    }
    return false;
  }

  function findControl(field) {
    if (!field) return null;
    // regularizers.<i>.weight -> the row of the i-th active regularizer
    const m = /^regularizers(?:\.(\d+|[a-z_0-9]+))?/i.exec(field);
    if (m) {
      let kind = m[1];
      if (kind !== undefined && /^\d+$/.test(kind)) kind = (current.regularizers || [])[+kind]?.kind;
      const row = kind && regRows[kind];
      if (row) return { error: row.error, root: row.root };
      const first = Object.values(regRows)[0];
      return first ? { error: first.error, root: first.root } : null;
    }
    let best = null;
    for (const c of controls) {
      if (field === c.path || field.startsWith(`${c.path}.`)) {
        if (!best || c.path.length > best.path.length) best = c;
      }
    }
    if (!best) {
      const top = field.split(".")[0];
      best = controls.find((c) => c.path.split(".")[0] === top) || null;
    }
    return best;
  }

  function clearErrors() {
    for (const e of container.querySelectorAll(".error")) e.textContent = "";
    for (const e of container.querySelectorAll(".invalid")) e.classList.remove("invalid");
  }

  function labelOf(field) {
    const c = findControl(field);
    if (!c) return field;
    const l = c.root.querySelector(".ctl-label, .reg-head span");
    return l ? l.textContent : field;
  }

  function setConfig(cfg, pending = {}) {
    current = cfg;
    const shown = (p) => (p in pending ? pending[p] : undefined);
    const view = JSON.parse(JSON.stringify(cfg));
    for (const [k, v] of Object.entries(pending)) view[k] = v;
    // a control showing an error keeps the value the student typed until the next change
    for (const c of controls) if (!c.root.classList.contains("invalid")) c.set(view);
    // target fields only for their dataset
    for (const { ctl, only } of targetCtls) ctl.root.hidden = !!only && !only.includes(view.dataset);
    // optimizer extras only for their optimizer
    for (const c of controls) {
      if (!c.onlyFor) continue;
      const opt = getPath(view, `${c.path.split(".")[0]}.name`);
      c.root.hidden = !c.onlyFor.split(" ").includes(opt);
    }
    // regularizers
    const active = Object.fromEntries((cfg.regularizers || []).map((r) => [r.kind, r]));
    for (const [kind, row] of Object.entries(regRows)) {
      const r = active[kind];
      row.toggle.checked = !!r;
      row.root.classList.toggle("on", !!r);
      const w = r && r.weight !== null && r.weight !== undefined ? r.weight : row.info.default_weight;
      row.weightCtl.set({ regularizers: { [kind]: { weight: w } } });
      for (const { key, ctl } of row.paramCtls) {
        const v = r && r[key] !== undefined ? r[key] : row.info.params_schema?.properties?.[key]?.default ?? row.info.params?.properties?.[key]?.default;
        if (v !== undefined) ctl.set({ regularizers: { [kind]: { [key]: v } } });
      }
    }
    // pending reset-only changes are shown on their badge
    for (const e of container.querySelectorAll(".ctl")) {
      const p = e.dataset.path;
      const badge = e.querySelector(".badge");
      if (badge) {
        const isPending = shown(p) !== undefined;
        badge.textContent = isPending ? "press Reset to apply" : "on reset";
        badge.classList.toggle("pending", isPending);
      }
    }
  }

  /** Hide controls by name (?hide=a,b) or show only some (?show=a,b). */
  function applyVisibility(hide, show) {
    const hideSet = new Set(hide);
    const showSet = new Set(show);
    const match = (names, set) => names.some((n) => set.has(n));
    for (const node of container.querySelectorAll("[data-names]")) {
      const names = (node.dataset.names || "").split(" ");
      let hidden = match(names, hideSet);
      if (showSet.size && node.classList.contains("ctl") || showSet.size && node.classList.contains("reg")) {
        const groupNames = (node.closest(".group")?.dataset.names || "").split(" ");
        if (!match(names, showSet) && !match(groupNames, showSet)) hidden = true;
      }
      if (node.classList.contains("ctl") || node.classList.contains("reg") || node.classList.contains("opt-box") || node.classList.contains("group")) {
        node.classList.toggle("url-hidden", hidden);
      }
    }
    // a group with nothing visible left disappears
    for (const g of container.querySelectorAll(".group")) {
      const any = [...g.querySelectorAll(".ctl, .reg")].some((c) => !c.closest(".url-hidden"));
      g.classList.toggle("url-empty", !any);
    }
    const anyGroup = [...container.querySelectorAll(".group")].some((g) => !g.classList.contains("url-hidden") && !g.classList.contains("url-empty"));
    return anyGroup;
  }

  return { setConfig, showError: showErrorOn, clearErrors, findControl, labelOf, applyVisibility, regRows, controls };
}
