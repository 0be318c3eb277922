// gandyn page entry: schema -> controls, URL -> state, socket -> latest frame -> views.
// Rendering: the socket only stores the newest frame; one requestAnimationFrame loop draws
// it with Plotly.react. A frame that arrives while the previous one is still being drawn
// replaces it (frames are skipped, never queued).

import { state, syncUrl, shareUrl, fromQuery, merge, clone, deepEqual, kindOfDataset, SPEEDS, VIEW_DEFAULTS } from "./state.js";
import { normalizeSchema, schemaDefaults, typeOfPath, buildControls, friendlyMessage } from "./controls.js";
import { Session } from "./socket.js";
import { createView2d } from "./view2d.js";
import { createView1d } from "./view1d.js";
import { createViewDirac } from "./viewDirac.js";
import { MetricsHistory, createMetrics } from "./metrics.js";
import { exportImage, exportMetrics } from "./export.js";
import { createGallery } from "./gallery.js";

const $ = (id) => document.getElementById(id);

// server-side view options behind the page's toggles
const FIELD_N = 17, MANIFOLD_N = 16, TRAILS_K = 10;

const stats = {
  framesReceived: 0,   // frames decoded from the socket
  framesRendered: 0,   // frames drawn (Plotly.react of the main view)
  framesSkipped: 0,    // frames replaced by a newer one before they were drawn
  lastRenderMs: 0,
  avgRenderMs: 0,
  metricsRenders: 0,
};

const history = new MetricsHistory();
let schemaInfo = null;
let controls = null;
let session = null;
let views = null;
let metricsChart = null;

let latest = null;          // newest frame received
let rendered = null;        // frame last drawn
let dirty = false;          // redraw the current frame (options changed)
let lastMetricsDraw = 0;
let playing = false;
let version = null;
let iteration = 0;
let firstHello = true;
let currentKind = null;
let halted = null;
let presetInfo = null;
let gallery = null;
// "what one update did": after a step while paused, the next frame is drawn with the frame
// received before it (faded). ghostNext is set when the step's ack arrives; the frame that
// follows the ack is the step's frame (docs/protocol.md §3-4: ack, then one frame).
let ghostNext = false;
let presetToast = null;   // title to announce for the reset that loads a preset
let prevReceived = null;

// ---------------------------------------------------------------- boot
async function boot() {
  exposeForTests();
  const params = fromQuery(location.search, () => "string"); // page options first (lecture etc.)
  applyPageOptions(params);
  fillSpeedSelect();
  try {
    const raw = await (await fetch("/api/schema")).json();
    schemaInfo = normalizeSchema(raw);
  } catch (e) {
    $("controls-body").textContent = "Could not load the settings from the server. Is it running?";
    setConn("lost", "The server did not answer. Reload the page when it is running.");
    return;
  }
  state.defaults = schemaDefaults(schemaInfo.config);
  const q = fromQuery(location.search, (p) => typeOfPath(schemaInfo.config, p));
  state.urlPatch = q.patch;
  if (q.unknown.length) notice(`Ignored unknown setting${q.unknown.length > 1 ? "s" : ""} in the address: ${q.unknown.join(", ")}.`);

  controls = buildControls($("controls-body"), schemaInfo, {
    onPatch: (patch, info) => sendUpdate(patch, info),
    onPending: (path, value) => setPending(path, value),
    onDataset: (name) => changeDataset(name),
    onClearPoints: () => startDrawing([]),
  });
  addMomentsToggle();
  applyVisibility();

  views = {
    "2d": createView2d($("view2d")),
    "1d": createView1d($("view1d")),
    dirac: createViewDirac($("viewDirac")),
  };
  metricsChart = createMetrics($("metrics"));
  gallery = createGallery($("gallery-slot"), { onPick: pickPreset, collapsed: state.lecture });
  gallery.load().then(() => { gallery.setCurrent(state.preset); updateSide(); });
  updateSide();
  wireUi();
  watchSizes();

  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  session = new Session(`${proto}//${location.host}/ws`, {
    onHello, onFrame, onEvent, onStatus: setConn,
  });
  window.gandyn.session = session;
  // a closed tab frees its training worker at once instead of after the grace period
  window.addEventListener("pagehide", () => session.end());
  session.connect(state.preset ? `?preset=${encodeURIComponent(state.preset)}` : "");
  requestAnimationFrame(loop);
}

function applyPageOptions(p) {
  state.lecture = p.lecture;
  state.hide = p.hide;
  state.show = p.show;
  state.preset = p.preset;
  state.play = p.play;
  state.speed = p.speed;
  state.view = { ...VIEW_DEFAULTS, ...p.view };
  document.body.classList.toggle("lecture", state.lecture);
  // a lecture on a small screen (a 1280 x 720 projector) starts with the plot and the note
  // only; the settings stay one click (or s) away. Not when the address chose settings.
  const curated = state.show.length > 0 || state.hide.some((n) => !PAGE_PARTS.includes(n));
  setSettingsOpen(!(state.lecture && !curated && window.innerWidth < 1500));
  for (const f of Object.keys(VIEW_DEFAULTS)) { const box = $(`opt-${f}`); if (box) box.checked = !!state.view[f]; }
}

function setSettingsOpen(open) {
  document.body.classList.toggle("settings-closed", !open);
  $("btn-settings").setAttribute("aria-expanded", String(open));
  window.dispatchEvent(new Event("resize"));
}

function fillSpeedSelect() {
  const sel = $("speed");
  sel.replaceChildren(...Object.entries(SPEEDS).map(([k, v]) => Object.assign(document.createElement("option"), { value: k, textContent: v.label })));
  sel.value = state.speed;
}

// names of ?hide= that are parts of the page, not settings
const PAGE_PARTS = ["play", "step", "reset", "speed", "export", "link", "view", "contours", "field", "trails", "manifold", "arrows", "metrics", "notes", "gallery", "side", "settings"];

function applyVisibility() {
  const anyGroup = controls ? controls.applyVisibility(state.hide, state.show) : true;
  $("controls").hidden = !anyGroup || state.hide.includes("settings");
  $("btn-settings").hidden = $("controls").hidden;
  for (const node of document.querySelectorAll("[data-control]")) {
    const names = node.dataset.control.split(" ");
    node.classList.toggle("url-hidden", names.some((n) => state.hide.includes(n)));
  }
}

// ---------------------------------------------------------------- socket handlers
function onHello(msg, resumed) {
  version = msg.version;
  iteration = msg.iteration;
  playing = !!msg.playing;
  updatePlayButton();
  if (resumed) {
    state.config = msg.config;
    refreshControls();
    if (!firstHello) toast(`Reconnected — the session resumed at iteration ${msg.iteration}.`);
    sendViewAndPace();
    return;
  }
  const wasFirst = firstHello;
  firstHello = false;
  state.config = msg.config;
  if (wasFirst) {
    if (state.preset && msg.preset !== state.preset) {
      notice(`There is no preset called “${state.preset}”; showing “${msg.preset}” instead.`);
      state.preset = msg.preset;
    }
    const patch = state.urlPatch || {};
    if (state.preset || !Object.keys(patch).length) {
      // a preset (asked for, or the server's default): the URL is a diff against it
      state.preset = state.preset || msg.preset || null;
      state.base = clone(msg.config);
      if (Object.keys(patch).length) sendReset({ preset: state.preset, patch }, { quiet: true });
    } else {
      // no preset: the URL is a diff against TrainConfig's defaults
      state.preset = null;
      state.base = clone(state.defaults);
      sendReset({ config: merge(state.defaults, patch) }, { quiet: true }).then((ack) => {
        // fields without a default in the JSON Schema (pydantic default_factory, e.g.
        // regularizers) take the server's default: learn it from what the server ran
        if (!ack || !ack.config) return;
        for (const [k, v] of Object.entries(ack.config)) {
          if (!(k in state.defaults) && !(k in patch)) { state.defaults[k] = clone(v); state.base[k] = clone(v); }
        }
        syncUrl();
      });
    }
    loadPresetPanel();
  } else {
    // the old session had ended (grace period over): start again with the same settings
    notice("The connection was away too long and the old run ended; a new run started with the same settings.");
    sendReset({ config: merge(state.config, {}) }, { quiet: true });
  }
  refreshControls();
  sendViewAndPace();
  if (state.play && wasFirst) send({ type: "play" }).then((a) => { playing = a.playing; updatePlayButton(); }).catch(showCommandError);
  syncUrl();
}

/** What a faded "before" picture needs from a frame (not the frame: no chains of frames). */
function ghostOf(f) {
  return {
    kind: f.kind, iteration: f.iteration, part: f.part, fake: f.fake, shapes: f.shapes,
    xs: f.xs, d_line: f.d_line, fake_density: f.fake_density, theta: f.theta, psi: f.psi,
    d_grid: f.d_grid, extent: f.extent, undecided: f.undecided,
  };
}

function onFrame(f) {
  stats.framesReceived++;
  if (ghostNext && f.playing === false && prevReceived && prevReceived.kind === f.kind) f.ghost = ghostOf(prevReceived);
  ghostNext = false;
  prevReceived = f;
  if (latest && latest !== rendered) stats.framesSkipped++;
  latest = f;
  history.addFrame(f);
  if (typeof f.playing === "boolean" && f.playing !== playing) { playing = f.playing; updatePlayButton(); }
  if (f.halt && !halted) showHalt(f.halt);
  else if (!f.halt && halted) hideHalt();
}

function onEvent(msg) {
  if (msg.type === "config_changed") {
    if (msg.reset) {
      history.clear();
      for (const v of Object.values(views)) v.resetScale?.();
      if (presetToast) toast(`Preset: ${presetToast}`);
      else toast(msg.changes && msg.changes.length ? `New run: ${shorten(msg.summary || "", 90)}` : "New run from iteration 0");
      presetToast = null;
    } else if (msg.changes && msg.changes.length) {
      history.addMark(msg.iteration, msg.summary || msg.changes.map((c) => c.field).join(", "));
    }
  } else if (msg.type === "evaluation") {
    history.addEvaluation(msg);
  } else if (msg.type === "diverged") {
    showHalt(msg);
    playing = false;
    updatePlayButton();
  }
}

function send(cmd) {
  if (!session) return Promise.reject(new Error("not connected"));
  return session.send(cmd);
}

// ---------------------------------------------------------------- config changes
function configPath(field) {
  if (!field) return null;
  return field.replace(/^(patch|config)\./, "");
}

function showConfigError(err, info = {}, sentPatch = null) {
  let field = configPath(err.field) || info.path || null;
  // regularizers.N.x -> the kind at N in the list we sent
  const m = field && /^regularizers\.(\d+)/.exec(field);
  if (m && sentPatch && Array.isArray(sentPatch.regularizers)) {
    const kind = sentPatch.regularizers[+m[1]]?.kind;
    if (kind) field = `regularizers.${kind}`;
  }
  if (field && (err.code === "invalid" || err.code === undefined)) {
    const label = controls.labelOf(field);
    if (controls.showError(field, friendlyMessage(label, err.message))) return;
  }
  showCommandError(err);
}

function showCommandError(err) {
  if (!err) return;
  if (err.code === "lost" || err.code === "offline") { notice("Not connected: the change will be sent when the connection is back."); return; }
  if (err.code === "halted") { notice("Training is stopped because it diverged: reset the run, or lower a learning rate first."); return; }
  if (err.code === "rate_limited") return; // too many slider moves; the next one goes through
  notice(err.message || String(err));
}

async function sendUpdate(patch, info = {}) {
  controls.clearErrors();
  try {
    const ack = await send({ type: "update", patch, reset_moments: !!$("reset-moments")?.checked });
    afterConfigAck(ack);
  } catch (err) {
    showConfigError(err, info, patch);
    refreshControls();
  }
}

async function sendReset(body, { quiet = false } = {}) {
  controls.clearErrors();
  try {
    const ack = await send({ type: "reset", ...body });
    state.pending = {};
    clearNotice(PENDING_NOTICE);  // the changes it spoke of are applied now
    if ("preset" in ack && ack.preset !== undefined) {
      if (ack.preset) state.preset = ack.preset;
    }
    afterConfigAck(ack);
    hideHalt();
    return ack;
  } catch (err) {
    showConfigError(err, {}, body.patch || body.config);
    if (!quiet) refreshControls();
    return null;
  }
}

function afterConfigAck(ack) {
  if (ack.config) state.config = ack.config;
  version = ack.version;
  refreshControls();
  syncUrl();
}

function setPending(path, value) {
  const top = path.split(".")[0];
  if (deepEqual(state.config?.[top], value)) delete state.pending[top];
  else state.pending[top] = value;
  refreshControls();
  syncUrl();
  if (Object.keys(state.pending).length) notice(PENDING_NOTICE, 6000);
  else clearNotice(PENDING_NOTICE);
}

function changeDataset(name) {
  const cur = state.config?.dataset;
  if (name === "points" && !((state.config?.target?.points || []).length && cur === "points")) {
    startDrawing(state.config?.target?.points || []);
    return;
  }
  stopDrawing();
  if (kindOfDataset(name) !== kindOfDataset(cur) || Object.keys(state.pending).length) {
    sendReset({ patch: { ...state.pending, dataset: name } });
  } else {
    sendUpdate({ dataset: name }, { path: "dataset" });
  }
}

// ---------------------------------------------------------------- drawing your own points
function startDrawing(points) {
  $("draw-hint").hidden = false;
  if (currentKind !== "2d") showKind("2d");
  if (!latest || latest.kind !== "2d") {
    // nothing 2D to draw over yet: an empty canvas over the default extent
    const blank = { kind: "2d", extent: [-2, 2], display: "probability", undecided: 0.5, shapes: {}, seq: -1 };
    views["2d"].render(blank, ctx());
  }
  views["2d"].setDrawing(points, (pts) => {
    const cfg = state.config || {};
    if (!pts.length) return;
    if (kindOfDataset(cfg.dataset) === "2d") sendUpdate({ dataset: "points", target: { points: pts } }, { path: "target.points" });
    else sendReset({ patch: { ...state.pending, dataset: "points", target: { points: pts } } });
  });
}

function stopDrawing() {
  $("draw-hint").hidden = true;
  views?.["2d"].setDrawing(null);
}

// ---------------------------------------------------------------- render loop
function ctx() {
  const loss = schemaInfo?.losses?.[state.config?.loss];
  // shift-invariant critics (wgan, rsgan): the engine's `undecided` is the midpoint of D's
  // mean scores on real and fake samples (the schema's `undecided` is null for them)
  const midpoint = !!loss && "undecided" in loss ? loss.undecided === null : ["wgan", "rsgan"].includes(state.config?.loss);
  return { lecture: state.lecture, view: state.view, midpoint };
}

function showKind(kind) {
  currentKind = kind;
  for (const [k, v] of Object.entries(views)) v.div.hidden = k !== kind;
  for (const id of ["opt-contours", "opt-field", "opt-manifold"]) $(id).parentElement.hidden = kind !== "2d";
  $("opt-trails").parentElement.hidden = kind !== "2d";
  window.dispatchEvent(new Event("resize"));
}

function loop() {
  requestAnimationFrame(loop);
  const f = latest;
  if (f && (f !== rendered || dirty)) {
    const kind = f.kind in views ? f.kind : "2d";
    if (kind !== currentKind) showKind(kind);
    const t0 = performance.now();
    try {
      views[kind].render(f, ctx());
    } catch (e) {
      console.error("gandyn: render failed", e);
    }
    const dt = performance.now() - t0;
    stats.lastRenderMs = dt;
    stats.avgRenderMs = stats.avgRenderMs ? 0.9 * stats.avgRenderMs + 0.1 * dt : dt;
    if (f !== rendered) stats.framesRendered++;
    rendered = f;
    dirty = false;
    iteration = f.iteration;
    $("iteration").textContent = f.iteration.toLocaleString("en-US");
    // which network moved last, when it was one of them alone (step D / step G / slow motion)
    const part = $("part");
    part.hidden = !(f.part === "d" || f.part === "g");
    // the counter counts full iterations only (docs/protocol.md §2): a D or G update alone
    // leaves it as it is, and the badge says so
    if (!part.hidden) { part.textContent = `${f.part.toUpperCase()} update only: iteration unchanged`; part.className = `part part-${f.part}`; }
    // the drawing canvas keeps its points visible while the real target is elsewhere
  }
  const now = performance.now();
  if (metricsChart && now - lastMetricsDraw > (playing ? 1000 : 100)) {
    lastMetricsDraw = now;
    const t1 = performance.now();
    if (metricsChart.render(history, ctx())) {
      stats.metricsRenders++;
      const dm = performance.now() - t1;
      stats.avgMetricsMs = stats.avgMetricsMs ? 0.8 * stats.avgMetricsMs + 0.2 * dm : dm;
    }
  }
}

// ---------------------------------------------------------------- view and pace
function viewCommand() {
  return {
    type: "view",
    field: state.view.field ? FIELD_N : 0,
    manifold: state.view.manifold ? MANIFOLD_N : 0,
    trails: state.view.trails ? TRAILS_K : 0,
  };
}

function sendViewAndPace() {
  send(viewCommand()).catch(showCommandError);
  send({ type: "pace", ...SPEEDS[state.speed].pace }).catch(showCommandError);
}

// ---------------------------------------------------------------- UI wiring
function wireUi() {
  $("btn-play").addEventListener("click", togglePlay);
  $("btn-step").addEventListener("click", () => step("both"));
  $("btn-step-d").addEventListener("click", () => step("d"));
  $("btn-step-g").addEventListener("click", () => step("g"));
  $("btn-reset").addEventListener("click", reset);
  $("halt-reset").addEventListener("click", reset);
  $("speed").addEventListener("change", (e) => {
    state.speed = e.target.value;
    send({ type: "pace", ...SPEEDS[state.speed].pace }).catch(showCommandError);
    syncUrl();
  });
  for (const f of Object.keys(VIEW_DEFAULTS)) {
    $(`opt-${f}`).addEventListener("change", (e) => {
      state.view[f] = e.target.checked;
      if (f === "field" || f === "manifold" || f === "trails") send(viewCommand()).catch(showCommandError);
      dirty = true;
      syncUrl();
    });
  }
  $("draw-clear").addEventListener("click", () => startDrawing([]));
  // export
  const menu = $("export-menu");
  $("btn-export").addEventListener("click", (e) => { e.stopPropagation(); menu.hidden = !menu.hidden; });
  document.addEventListener("click", () => { menu.hidden = true; });
  $("export-png").addEventListener("click", () => exportImage(views[currentKind || "2d"], "png", state, iteration));
  $("export-svg").addEventListener("click", () => exportImage(views[currentKind || "2d"], "svg", state, iteration));
  $("export-csv").addEventListener("click", () => exportMetrics(history, "csv", state));
  $("export-json").addEventListener("click", async () => {
    let replay = null;
    try { replay = (await send({ type: "export" })).replay; } catch { /* offline: metrics only */ }
    exportMetrics(history, "json", state, { replay, link: shareUrl() });
  });
  $("btn-link").addEventListener("click", copyLink);
  $("btn-help").addEventListener("click", () => toggleHelp(true));
  $("btn-settings").addEventListener("click", () => setSettingsOpen(document.body.classList.contains("settings-closed")));
  $("help-close").addEventListener("click", () => toggleHelp(false));
  $("help").addEventListener("click", (e) => { if (e.target === $("help")) toggleHelp(false); });
  document.addEventListener("keydown", onKey);
  legend();
}

/** Plotly's own `responsive` only follows the window; panels opening and closing also resize. */
function watchSizes() {
  let pending = false;
  const ro = new ResizeObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      for (const d of [currentDiv(), $("metrics")]) if (d && d._fullLayout && !d.hidden) Plotly.Plots.resize(d);
    });
  });
  ro.observe($("view-wrap"));
  // the side panels stick under the top bar, whose height depends on the screen and mode
  const top = new ResizeObserver(() => document.documentElement.style.setProperty("--topbar-h", `${Math.ceil($("topbar").getBoundingClientRect().height)}px`));
  top.observe($("topbar"));
  ro.observe($("metrics-wrap"));
}

function currentDiv() { return views[currentKind || "2d"].div; }

function legend() {
  $("legend").innerHTML = `<span><i class="sw" style="background:#117a3a"></i>real</span>
    <span><i class="sw" style="background:#7a1fa2"></i>fake</span>
    <span><b style="color:#e85d04">━➤</b> push on fakes</span>`;
}

function onKey(e) {
  const t = e.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA") && t.type !== "checkbox" && t.type !== "range";
  if (e.key === "Escape") { toggleHelp(false); return; }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === " " || e.code === "Space") { e.preventDefault(); togglePlay(); }
  else if (e.key === "ArrowRight") { e.preventDefault(); step("both"); }
  else if (e.key === "d") step("d");
  else if (e.key === "g") step("g");
  else if (e.key === "r") reset();
  else if (e.key === "?") toggleHelp($("help").hidden);
  else if (e.key === "s" && !$("btn-settings").hidden) setSettingsOpen(document.body.classList.contains("settings-closed"));
  else if (e.key === "l") { state.lecture = !state.lecture; document.body.classList.toggle("lecture", state.lecture); dirty = true; metricsChart.render(history, ctx(), true); syncUrl(); }
}

function toggleHelp(show) { $("help").hidden = !show; if (show) $("help-close").focus(); }

async function togglePlay() {
  try {
    const ack = await send({ type: playing ? "pause" : "play" });
    playing = ack.playing;
    updatePlayButton();
  } catch (err) { showCommandError(err); }
}

async function step(part) {
  const paused = !playing;
  try {
    const ack = await send({ type: "step", n: 1, part });
    // runs as a microtask right after the ack, before the step's frame is handled
    if (paused && !ack.playing) ghostNext = true;
  } catch (err) { showCommandError(err); }
}

async function reset() {
  stopDrawing();
  await sendReset(Object.keys(state.pending).length ? { patch: { ...state.pending } } : {});
}

function updatePlayButton() {
  const b = $("btn-play");
  b.querySelector(".icon-play").textContent = playing ? "❚❚" : "▶";
  b.querySelector(".label").textContent = playing ? "Pause" : "Play";
  b.setAttribute("aria-pressed", String(playing));
}

// What a link holds: the settings in the page address, not the run's history.
const LINK_KEEPS = "it keeps the current settings (seed included) and starts a new run from "
  + "iteration 0 with them; the changes made during this run and the steps taken are not in it";

async function copyLink() {
  const url = shareUrl();
  let ok = false;
  try { await navigator.clipboard.writeText(url); ok = true; } catch { /* fall back below */ }
  if (!ok) {
    const ta = Object.assign(document.createElement("textarea"), { value: url });
    document.body.append(ta); ta.select();
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    ta.remove();
  }
  toast(ok ? `Link copied: ${LINK_KEEPS}.` : `Copy this link (${LINK_KEEPS}): ${url}`);
  window.gandyn.lastLink = url;
}

function addMomentsToggle() {
  const g = document.querySelector('.group[data-names~="optimizer"]');
  if (!g) return;
  const lab = document.createElement("label");
  lab.className = "moments ctl";
  lab.dataset.names = "optimizer moments";
  lab.innerHTML = `<input type="checkbox" id="reset-moments"> fresh optimizer state on each change <span class="help">(Adam/RMSprop moments; a new loss or optimizer usually wants it)</span>`;
  g.append(lab);
}

// ---------------------------------------------------------------- panels
function refreshControls() {
  if (!controls || !state.config) return;
  controls.setConfig(state.config, state.pending);
  const c = state.config;
  const regs = (c.regularizers || []).map((r) => r.kind.replace(/_/g, " ")).join(" + ");
  $("summary").textContent = `${c.dataset} · ${c.loss}${regs ? ` + ${regs}` : ""} · ${c.opt_d?.name ?? ""} ${c.opt_d?.lr ?? ""}`;
}

/** The side panel shows the preset's note (unless hide=notes) and the gallery (unless hide=gallery). */
function updateSide() {
  const hidden = (n) => state.hide.includes(n);
  const notes = !!(state.preset && presetInfo && presetInfo.name === state.preset) && !hidden("notes");
  const showGallery = !!gallery && !hidden("gallery");
  $("preset-panel").hidden = !notes;
  $("gallery-slot").hidden = !showGallery;
  $("side").hidden = hidden("side") || (!notes && !showGallery);
  gallery?.setCurrent(state.preset);
}

async function loadPresetPanel() {
  const name = state.preset;
  if (!name) { presetInfo = null; updateSide(); return; }
  try {
    const r = await fetch(`/api/presets/${encodeURIComponent(name)}`);
    if (!r.ok) { presetInfo = null; updateSide(); return; }
    const info = await r.json();
    if (state.preset !== name) return; // another preset was picked meanwhile
    presetInfo = { name, ...info };
  } catch { presetInfo = null; updateSide(); return; }
  $("preset-title").textContent = presetInfo.title || presetInfo.name;
  const note = $("preset-note");
  note.replaceChildren(...String(presetInfo.note || "").split(/\n\s*\n/).map((p) => Object.assign(document.createElement("p"), { textContent: p.trim() })));
  const tryBox = $("preset-try");
  tryBox.replaceChildren();
  if ((presetInfo.try_next || []).length) tryBox.append(Object.assign(document.createElement("div"), { className: "try-head", textContent: "What to try next" }));
  // "try next": a preset name, or {label, patch} (a live change), or {label, preset}
  for (const item of presetInfo.try_next || []) {
    const b = document.createElement("button");
    const label = typeof item === "string" ? item : item.label || item.title || item.name || item.preset || "try this";
    b.className = "try";
    b.innerHTML = `<span class="try-arrow" aria-hidden="true">▶</span><span class="try-text"></span>`;
    b.querySelector(".try-text").textContent = label;
    b.title = item.patch ? `Change live: ${JSON.stringify(item.patch)}` : `Open the preset ${item.preset || item.name || item}`;
    b.addEventListener("click", () => {
      if (typeof item === "string") openPreset(item);
      else if (item.preset || (item.name && !item.patch)) openPreset(item.preset || item.name);
      else if (item.patch) tryPatch(item.patch, b);
    });
    tryBox.append(b);
  }
  updateSide();
  // a preset's view options the page understands
  const v = presetInfo.view || {};
  let changed = false;
  for (const [k, on] of [["field", v.field > 0], ["manifold", v.manifold > 0], ["trails", v.trails > 0]]) {
    if (k in v && state.view[k] !== on) { state.view[k] = on; $(`opt-${k}`).checked = on; changed = true; }
  }
  const extra = Object.fromEntries(Object.entries(v).filter(([k]) => ["grid", "samples", "line", "dirac_grid"].includes(k)));
  if (changed || Object.keys(extra).length) send({ ...viewCommand(), ...extra }).catch(showCommandError);
}

/** A "try next" change: live when the engine allows it, else a reset with the patch. */
async function tryPatch(patch, button) {
  const live = !Object.keys(patch).some((k) => schemaInfo.resetOnly.includes(k)) &&
    (!patch.dataset || kindOfDataset(patch.dataset) === kindOfDataset(state.config?.dataset));
  if (live) await sendUpdate(patch, { path: Object.keys(patch)[0] });
  else await sendReset({ patch });
  button?.classList.add("tried");
}

async function openPreset(name) {
  stopDrawing();
  presetToast = gallery?.presets.find((p) => p.name === name)?.title || name;
  const ack = await sendReset({ preset: name });
  if (ack) {
    state.preset = name;
    state.base = clone(ack.config);
    ghostNext = false;
    syncUrl();
    gallery?.setCurrent(name);
    await loadPresetPanel();
  }
  return ack;
}

/** A card of the gallery: load that preset live (the address becomes ?preset=NAME). */
async function pickPreset(name) {
  const ack = await openPreset(name);
  if (ack && state.lecture) gallery.setCollapsed(true);
  if (ack) $("side").scrollTop = 0;
}

// ---------------------------------------------------------------- status, notices, halt
let noticeTimer = null;
const PENDING_NOTICE = "Some changes apply on reset: press Reset (or r) to restart the run with them.";
function notice(text, ms = 8000) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  if (ms) noticeTimer = setTimeout(() => { n.hidden = true; }, ms);
}

/** Hide the notice if it still says `text`. */
function clearNotice(text) {
  const n = $("notice");
  if (n.textContent !== text) return;
  clearTimeout(noticeTimer);
  n.hidden = true;
}

const shorten = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

let toastTimer = null;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 3500);
}

function setConn(status, detail) {
  const el = $("conn");
  const words = {
    connecting: "connecting…", open: "connected", lost: "connection lost — reconnecting…",
    busy: "server busy", taken: "opened elsewhere", closed: "session ended", incompatible: "incompatible server",
  };
  el.textContent = words[status] || status;
  el.className = `conn ${status === "open" ? "conn-open" : status === "connecting" ? "conn-connecting" : "conn-lost"}`;
  if (status === "lost") notice("The connection to the server dropped. Reconnecting — your run is kept for a minute.", 0);
  else if (status === "open") { const n = $("notice"); if (/connection/i.test(n.textContent)) n.hidden = true; }
  else if (detail) notice(detail, 0);
  window.gandyn.status = status;
}

function showHalt(h) {
  halted = h;
  $("halt-title").textContent = h.kind === "error"
    ? `Training stopped by an error at iteration ${h.iteration}.`
    : `Training diverged at iteration ${h.iteration}: ${describeQuantity(h.quantity)} blew up.`;
  // the server's sentence, without a first sentence that repeats the title
  const msg = String(h.message || "").replace(/^Training (diverged|stopped|failed)[^.]*\.\s*/i, "");
  $("halt-message").textContent = msg;
  $("halt").hidden = false;
}

function hideHalt() { halted = null; $("halt").hidden = true; }

function describeQuantity(q) {
  const words = { d_loss: "the discriminator's loss", g_loss: "the generator's loss", grad_g: "the generator's gradient", grad_d: "the discriminator's gradient", param_d: "the discriminator's weights", param_g: "the generator's weights" };
  return words[q] || (q ? `“${q}”` : "a value");
}

// ---------------------------------------------------------------- for tests and the bench
function exposeForTests() {
  window.gandyn = {
    state, stats, history,
    get latest() { return latest; },
    get version() { return version; },
    get playing() { return playing; },
    get kind() { return currentKind; },
    get controls() { return controls; },
    get views() { return views; },
    get gallery() { return gallery; },
    get presetInfo() { return presetInfo; },
    openPreset: (name) => pickPreset(name),
    render(frame) { latest = frame; },
    ready: false,
  };
}

boot().then(() => { window.gandyn.ready = true; }).catch((e) => { console.error(e); });
