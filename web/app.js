// gandyn page entry: schema -> controls, URL -> state, socket -> latest frame -> views.
// Rendering: the socket only stores the newest frame; one requestAnimationFrame loop draws
// it with Plotly.react. A frame that arrives while the previous one is still being drawn
// replaces it (frames are skipped, never queued).

import { state, syncUrl, shareUrl, fromQuery, merge, clone, deepEqual, diffPatch, kindOfDataset, SPEEDS, VIEW_DEFAULTS } from "./state.js";
import { normalizeSchema, schemaDefaults, typeOfPath, buildControls, friendlyMessage } from "./controls.js";
import { Session } from "./socket.js";
import { createView2d } from "./view2d.js";
import { shareScales, scalesMoved } from "./scales.js";
import { createView1d } from "./view1d.js";
import { createViewDirac } from "./viewDirac.js";
import { createViewSpectrum } from "./viewSpectrum.js";
import { createView1dLanes } from "./view1dLanes.js";
import { createViewDiracLanes } from "./viewDiracLanes.js";
import * as metricsModule from "./metrics.js";
import { Lane, LANE_COLORS, laneTitle, forkWords } from "./lanes.js";
import { createPanels } from "./panels.js";
import { changeLabel, changeDetails } from "./changeMarks.js";
import { createHowToRead } from "./howToRead.js";
import { encodeReplay, decodeReplay, linkReplay, fromStart, MAX_LINK_CHARS } from "./link.js";
import { exportImage, exportMetrics, exportRecording } from "./export.js";
import { wireRecording } from "./record.js";
import { readDataFile, uploadLimits } from "./upload.js";
import { createGallery } from "./gallery.js";
import { ReplayKeeper, rebuildReset } from "./rebuild.js";
import { createFit } from "./layout.js";
import { RateMeter, formatRate, RATES_TITLE } from "./rates.js";
import { PresetEdits } from "./presetEdits.js";

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

let schemaInfo = null;
let controls = null;
let session = null;
let keeper = null;          // the run's replay, for a rebuild on another replica (rebuild.js)
let views = null;
let metricsChart = null;
let howToRead = null;       // the "how to read this" layer (howToRead.js)
let spectrumView = null;

// the session's lanes, in lane order (hello and every ack carry them: docs/protocol.md §11)
let lanes = [];
let selectedId = null;      // the lane the settings panel edits
let startConfig = null;     // lane 1's config at the last reset (lane_add patches are against it)
let overlayChoice = null;   // the user's "one plot" choice (null: the preset's, or on for Dirac-GAN)
let panels = null;
let shared = null;          // the scales the lanes' panels share (scales.js)
let dirty = false;          // redraw the current frames (options changed)
let lastMetricsDraw = 0;
let playing = false;
let version = null;
let iteration = 0;
let firstHello = true;
let currentKind = null;
let presetInfo = null;
let gallery = null;
// "what one update did": after a step while paused, each lane's next frame is drawn with the
// frame received before it (faded). ghostNext holds the lanes whose next frame is the step's
// (set when the step's ack arrives: docs/protocol.md §3-4, ack, then one frame per lane).
let ghostNext = new Set();
let resetToast = null;    // what to announce for the reset being sent (a preset, the lanes)
let fitter = null;        // the stage fitted into the window (layout.js)
let fitKey = "";          // what the last fit was for (kind, panels, lecture)
let chartsOpen = false;   // "more charts": every chart, not only the preset's
// the readout beside the counter (rates.js): lane 1's frames' iterations, the draws, the frames in
const meters = { it: new RateMeter(), drawn: new RateMeter(), received: new RateMeter() };
let lastRates = 0;
// the loaded preset, kept while the run is custom ("custom": its note no longer applies), and
// the changes made to its settings since (presetEdits.js)
let origin = null;        // {name, base}
const edits = new PresetEdits();

const laneById = (id) => lanes.find((l) => l.id === id) || null;
const selectedLane = () => laneById(selectedId) || lanes[0] || null;
const lanePos = (id) => { const i = lanes.findIndex((l) => l.id === id); return i < 0 ? null : i + 1; };
const laneColor = (lane) => LANE_COLORS[Math.max(0, lanes.indexOf(lane)) % LANE_COLORS.length];
const laneName = (lane) => `${lanePos(lane.id)} ${laneTitle(lane, lanes[0])}`;

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
    onUpload: uploadData,
  });
  addMomentsToggle();
  applyVisibility();

  panels = createPanels($("view-wrap"), {
    "2d": createView2d, "1d": createView1d, dirac: createViewDirac,
    overlay1d: createView1dLanes, overlayDirac: createViewDiracLanes,
  }, { onSelect: selectLane });
  // the first panel's views (the page of one lane; tests and export read them)
  views = { "2d": panels.view(0, "2d"), "1d": panels.view(0, "1d"), dirac: panels.view(0, "dirac") };
  metricsChart = metricsModule.createMetrics($("metrics"));
  // a new size redraws the panels: the 2D view's colour bar and notes are placed at drawing
  fitter = createFit({ stage: $("stage"), wrap: $("view-wrap"), metricsWrap: $("metrics-wrap"), chartsFolded: () => !chartsOpen, onChange: () => { dirty = true; } });
  window.addEventListener("resize", () => fitStage());
  spectrumView = createViewSpectrum($("spectrum"));
  renderSpectrum();
  howToRead = createHowToRead({ toggleIn: $("view-options"), before: $("view-wrap"), help: $("help-read") });
  gallery = createGallery($("gallery-slot"), { onPick: pickPreset, collapsed: state.lecture });
  gallery.load().then(() => { gallery.setCurrent(state.preset); updateSide(); });
  updateSide();
  wireUi();
  watchSizes();

  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  session = new Session(`${proto}//${location.host}/ws`, {
    onHello, onFrame, onEvent, onStatus: setConn, onReply,
  });
  window.gandyn.session = session;
  // behind replicas (a session id NAME.TOKEN) the page keeps the run's replay: rebuild.js
  keeper = new ReplayKeeper(async () => (await send({ type: "export" })).replay, () => ({
    key: session.sessionId?.includes(".") ? `${version}:${lanes.map((l) => l.iteration)}` : null,
    configs: lanes.map((l) => l.config),
  }));
  window.gandyn.keeper = keeper;
  // a closed tab frees its training worker at once instead of after the grace period
  window.addEventListener("pagehide", () => session.end());
  // a link with lanes holds their replay (link.js): decoded before the session starts
  const replayText = new URLSearchParams(location.search).get("replay");
  if (replayText) {
    try {
      ({ replay: state.linkReplay, edits: state.linkEdits } = await decodeReplay(replayText));
      state.replayParam = replayText;   // the address keeps it while the lanes are rebuilt
    } catch (e) { notice(`The lanes in this link could not be read (${e.message}); starting without them.`); }
  }
  session.connect(state.preset && !state.linkReplay ? `?preset=${encodeURIComponent(state.preset)}` : "");
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
  setSettingsOpen(curated || window.innerWidth >= (state.lecture ? 1500 : NARROW));
  for (const f of Object.keys(VIEW_DEFAULTS)) { const box = $(`opt-${f}`); if (box) box.checked = !!state.view[f]; }
}

/** Below this width the settings start folded, so that the plot comes first (styles.css stacks
 * the panels there). */
const NARROW = 1100;

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
const PAGE_PARTS = ["play", "step", "reset", "speed", "export", "link", "lanes", "view", ...Object.keys(VIEW_DEFAULTS), "metrics", "notes", "gallery", "side", "settings"];

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
  state.config = msg.config;
  syncLanes(msg.lanes || [{ id: 1, config: msg.config, iteration: msg.iteration }]);
  if (resumed) {
    refreshControls();
    if (!firstHello) toast(`Reconnected — the session resumed at iteration ${msg.iteration}.`);
    sendViewAndPace();
    return;
  }
  const wasFirst = firstHello;
  firstHello = false;
  startConfig = clone(lanes[0]?.config || msg.config);
  if (wasFirst && state.linkReplay) {
    // a link with lanes: rebuild exactly what it holds (docs/protocol.md §11, reset.replay);
    // a custom run's link names no preset (the replay may still name the session's)
    presetLoaded(state.preset ? state.linkReplay.preset || state.preset : null, null);
    startConfig = null;   // lane 1's start is in the replay's base; lane_add sends whole configs
    sendReset({ replay: state.linkReplay }, { quiet: true }).then((ack) => {
      if (!ack) { state.linkReplay = null; state.replayParam = null; syncUrl(); return; }
      // the changes from the preset the link kept: "modified" (or "custom") as when copied
      if (origin) edits.fromLink(state.linkEdits, (pos) => lanes[pos - 1]?.id ?? null);
      if (edits.status === "custom") state.preset = null;
      loadPresetPanel();
    });
  } else if (wasFirst) {
    if (state.preset && msg.preset !== state.preset) {
      notice(`There is no preset called “${state.preset}”; showing “${msg.preset}” instead.`);
      state.preset = msg.preset;
    }
    const patch = state.urlPatch || {};
    if (state.preset || !Object.keys(patch).length) {
      // a preset (asked for, or the server's default): the URL is a diff against it
      presetLoaded(state.preset || msg.preset || null, msg.config);
      if (Object.keys(patch).length) {
        sendReset({ preset: state.preset, patch }, { quiet: true }).then((ack) => { if (ack) noteEdit(patch, msg.config, lanes[0]?.id); });
      }
    } else {
      // no preset: the URL is a diff against TrainConfig's defaults
      presetLoaded(null, null);
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
  } else if (msg.lost?.reason === "replica_gone") {
    rebuildRun(keeper.take(), msg.limits?.max_replay_iterations);
  } else {
    // the old session had ended (grace period over): start again with the same settings
    notice("The connection was away too long and the old run ended; a new run started with the same settings.");
    sendReset(resetBody(), { quiet: true });
  }
  refreshControls();
  sendViewAndPace();
  if (state.play && wasFirst) send({ type: "play" }).then((a) => { playing = a.playing; updatePlayButton(); }).catch(showCommandError);
  syncUrl();
}

/** The server that held the session is gone (hello.lost, docs/protocol.md §6): rebuild the
 * run from the replay kept before (rebuild.js), or, with none kept yet, its settings. */
function rebuildRun(kept, limit) {
  if (!kept) {
    notice("The server that ran your run went away before the page kept its replay; a new run started on another server with the same settings.", 0);
    sendReset(resetBody(), { quiet: true });
    return;
  }
  const { body, says, rebuilding, toast: done } = rebuildReset(kept, limit ?? 20000);
  notice(rebuilding, 0);
  resetToast = done;
  startConfig = null;   // lane 1's start is in the replay's base, as for a link's lanes
  sendReset(body, { quiet: true }).then((ack) => { if (ack) notice(says, 0); });
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
  const lane = laneById(f.lane ?? lanes[0]?.id);
  if (!lane) return;   // a lane closed meanwhile, or one the next ack will name
  lane.received++;
  const now = performance.now();
  meters.received.add(now);
  if (lane === lanes[0]) meters.it.add(now, f.iteration);
  const before = lane.latest;
  if (ghostNext.has(lane.id) && f.playing === false && before && before.kind === f.kind) f.ghost = ghostOf(before);
  ghostNext.delete(lane.id);
  if (before && before !== lane.rendered) stats.framesSkipped++;
  lane.latest = f;
  lane.iteration = f.iteration;
  lane.history.addFrame(f);
  if (typeof f.playing === "boolean" && f.playing !== playing) { playing = f.playing; updatePlayButton(); }
  if (!!f.halt !== !!lane.halt) { lane.halt = f.halt || null; refreshHalt(); }
}

/** Every ack carries the lane set (docs/protocol.md §3, §11). */
function onReply(msg) {
  if (msg.type === "ack" && Array.isArray(msg.lanes)) syncLanes(msg.lanes);
  else if (msg.type === "ack" && msg.config && lanes[0]) { lanes[0].config = msg.config; state.config = selectedLane().config; }
}

function onEvent(msg) {
  const lane = laneById(msg.lane ?? lanes[0]?.id);
  if (msg.type === "restored" && Array.isArray(msg.lanes)) { syncLanes(msg.lanes); return; }
  if (!lane) return;
  if (msg.type === "config_changed") {
    if (msg.reset) {
      lane.history.clear();
      lane.spectrum = null;
      for (const v of panels.all()) v.resetScale?.();
      shared = null;
      // one notice for a reset of every lane (the first lane's event), none for a lane added
      if (lane === lanes[0] && !msg.added) {
        if (resetToast) toast(resetToast);
        else toast(msg.changes && msg.changes.length ? `New run: ${shorten(msg.summary || "", 90)}` : "New run from iteration 0");
        resetToast = null;
      }
    } else if (msg.changes && msg.changes.length) {
      lane.history.addMark(msg.iteration, changeLabel(msg.changes), changeDetails(msg.changes), msg.summary);
    }
  } else if (msg.type === "evaluation") {
    lane.history.addEvaluation(msg);
  } else if (msg.type === "spectrum") {
    lane.spectrum = msg;
    renderSpectrum();
  } else if (msg.type === "diverged") {
    lane.halt = msg;
    refreshHalt();
    if (lanes.every((l) => l.halt)) { playing = false; updatePlayButton(); }
  }
}

/** The lane set of a hello or an ack: the lanes we know keep their frames and histories. */
function syncLanes(list) {
  if (!Array.isArray(list) || !list.length) return;
  lanes = list.map((d) => {
    const lane = laneById(d.id) || new Lane(d.id);
    lane.title = d.title || "";
    lane.config = d.config;
    lane.start = d.start || {};
    lane.forked = d.forked || null;
    lane.iteration = d.iteration ?? lane.iteration;
    lane.halt = d.halted || null;
    return lane;
  });
  if (!laneById(selectedId)) selectedId = lanes[0].id;
  state.config = selectedLane().config;
  refreshHalt();
  updateLanes();
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
  const lane = selectedLane(), before = clone(lane?.config);
  try {
    const ack = await send({ type: "update", patch, reset_moments: !!$("reset-moments")?.checked, lane: lane?.id ?? 1 });
    noteEdit(patch, before, lane?.id);
    afterConfigAck(ack);
    return ack;
  } catch (err) {
    showConfigError(err, info, patch);
    refreshControls();
    return null;
  }
}

async function sendReset(body, { quiet = false } = {}) {
  controls.clearErrors();
  const before = clone(lanes[0]?.config);
  try {
    const ack = await send({ type: "reset", ...body });
    // a reset with new settings (the dataset, changes waiting for a reset) changes the preset's
    if (!body.preset && !body.replay && before) noteEdit(body.patch ?? diffPatch(before, body.config || before), before, lanes[0]?.id);
    state.pending = {};
    clearNotice(PENDING_NOTICE);  // the changes it spoke of are applied now
    if ("preset" in ack && ack.preset !== undefined) {
      if (ack.preset) state.preset = ack.preset;
    }
    if (!body.replay) { startConfig = clone(lanes[0]?.config || ack.config); state.linkReplay = null; state.replayParam = null; }
    afterConfigAck(ack);
    return ack;
  } catch (err) {
    showConfigError(err, {}, body.patch || body.config);
    if (!quiet) refreshControls();
    return null;
  }
}

function afterConfigAck(ack) {
  if (!Array.isArray(ack.lanes) && ack.config) state.config = ack.config;
  version = ack.version;
  refreshControls();
  syncUrl();
  laneLinkSoon();
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
  if (name === "points" && cur !== "points") { startDrawing([]); return; }   // an empty canvas
  if (name === "points1d" && cur !== "points1d") {
    refreshControls();   // the select goes back: values come from a file
    controls.showError("target.upload", "Your own 1D values come from a file: upload a CSV or JSON of them here.");
    return;
  }
  stopDrawing();
  if (kindOfDataset(name) !== kindOfDataset(cur) || Object.keys(state.pending).length) {
    sendReset(resetBody({ dataset: name }));
  } else {
    sendUpdate({ dataset: name }, { path: "dataset" });
  }
}

// ---------------------------------------------------------------- your own data (upload.js)
/** A picked file becomes the target (a live change within 2D or 1D, else a reset of every
 * lane); a bad file's reason shows under the upload button and nothing is sent. */
async function uploadData(file) {
  let got;
  try { got = await readDataFile(file, uploadLimits(schemaInfo.config)); } catch (e) {
    controls.showError("target.upload", `${file.name}: ${e.message}.`);
    return;
  }
  stopDrawing();
  const live = kindOfDataset(got.patch.dataset) === kindOfDataset(state.config?.dataset) && !Object.keys(state.pending).length;
  const ack = live ? await sendUpdate(got.patch, { path: "target.upload" }) : await sendReset(resetBody(got.patch));
  if (ack) toast(`${file.name}: ${got.count} ${got.dim === 2 ? "points" : "values"} are the target now.`);
}

// ---------------------------------------------------------------- drawing your own points
// An empty canvas (choosing "draw your own points", or "clear") hides the run's frames and
// pauses it until the first stroke: there is nothing to train on yet (the points target needs
// at least one point). The first stroke makes the points the target, and a run that was
// playing plays on.
let blankCanvas = null;     // {resume} while drawing starts from nothing, else null

function startDrawing(points) {
  $("draw-hint").hidden = false;
  if (currentKind !== "2d") showKind("2d");
  const latest = lanes[0]?.latest;
  if (!points.length || !latest || latest.kind !== "2d") {
    if (!points.length && !blankCanvas) {
      blankCanvas = { resume: playing };
      if (playing) togglePlay();
    }
    const blank = { kind: "2d", extent: [-2, 2], display: "probability", undecided: 0.5, shapes: {}, seq: -1 };
    views["2d"].render(blank, { ...ctx(), colorbar: false });   // no D yet: no colour bar
  }
  views["2d"].setDrawing(points, async (pts) => {
    const cfg = state.config || {};
    if (!pts.length) return;
    const resume = blankCanvas?.resume;
    blankCanvas = null;
    const patch = { dataset: "points", target: { points: pts } };
    const ack = kindOfDataset(cfg.dataset) === "2d" ? await sendUpdate(patch, { path: "target.points" }) : await sendReset(resetBody(patch));
    if (ack && resume && !playing) togglePlay();
  });
}

function stopDrawing() {
  $("draw-hint").hidden = true;
  views?.["2d"].setDrawing(null);
  if (blankCanvas) { blankCanvas = null; dirty = true; }
}

// ---------------------------------------------------------------- render loop
function ctx(lane = selectedLane()) {
  const cfg = lane?.config || state.config;
  const loss = schemaInfo?.losses?.[cfg?.loss];
  // shift-invariant critics (wgan, rsgan): the engine's `undecided` is the midpoint of D's
  // mean scores on real and fake samples (the schema's `undecided` is null for them)
  const midpoint = !!loss && "undecided" in loss ? loss.undecided === null : ["wgan", "rsgan"].includes(cfg?.loss);
  return { lecture: state.lecture, view: state.view, midpoint, noise: cfg?.noise };
}

function showKind(kind) {
  currentKind = kind;
  document.body.dataset.kind = kind;   // styles.css: the legend row stays in lecture mode for 1D
  updateLanes();   // the "one plot" box and the legend depend on the kind
  for (const el of document.querySelectorAll("#view-options [data-kinds]")) el.hidden = !el.dataset.kinds.split(" ").includes(kind);
  window.dispatchEvent(new Event("resize"));
}

/** 1D lanes in one plot when the preset says so (or the user picked it); Dirac-GAN lanes
 * share their (θ, ψ) plane unless the user asked for panels. */
function overlayOn(kind) {
  if (lanes.length < 2 || (kind !== "1d" && kind !== "dirac")) return false;
  if (overlayChoice !== null) return overlayChoice;
  return kind === "dirac" || !!originInfo()?.overlay;
}

const SCALE_SLACK = 0.15;   // while playing, a panel is redrawn for the shared scale alone past 15 %

function laneDetail(lane) {
  const parts = [`it ${lane.iteration.toLocaleString("en-US")}`];
  const fork = forkWords(lane, lanePos);
  if (fork) parts.push(fork);
  if (lane.halt) parts.push("halted");
  return parts.join(" · ");
}

function drawLanes() {
  const first = lanes[0].latest;
  const kind = first.kind in views ? first.kind : "2d";
  if (kind !== currentKind) showKind(kind);
  const overlay = overlayOn(kind);
  const multi = lanes.length > 1;
  const heads = lanes.map((l) => ({ lane: l.id, color: laneColor(l), title: laneTitle(l, lanes[0]), detail: laneDetail(l), selected: multi && l.id === selectedId }));
  const shownKind = overlay ? (kind === "1d" ? "overlay1d" : "overlayDirac") : kind;
  const vs = panels.arrange(shownKind, heads);
  fitStage(shownKind, overlay ? 1 : lanes.length);
  const t0 = performance.now();
  const fresh = lanes.filter((l) => l.latest && l.latest !== l.rendered);
  try {
    if (overlay) {
      const items = lanes.filter((l) => l.latest && l.latest.kind === kind).map((l) => ({ frame: l.latest, color: laneColor(l), name: laneName(l), selected: l.id === selectedId }));
      vs[0].render(items, ctx());
      for (const l of lanes) l.rendered = l.latest;
    } else {
      if (fresh.length) shared = shareScales(lanes.map((l) => l.latest).filter((f) => f && f.kind === kind), shared);
      const cols = Math.min(lanes.length, fitter.state.cols);
      const centres = lanes.map((l) => (l.latest ? `${l.latest.display}:${l.latest.undecided}` : ""));
      const oneCentre = centres.every((c) => c === centres[0]);
      lanes.forEach((l, i) => {
        const f = l.latest;
        if (!f || f.kind !== kind || !vs[i]) return;
        const rescale = multi && kind !== "dirac" && (playing ? scalesMoved(l.drawnScale, shared, SCALE_SLACK) : l.drawnScale !== shared);
        if (f === l.rendered && !dirty && !rescale) return;
        const c = ctx(l);
        if (multi) {
          c.compact = true;
          c.shared = shared;
          // one colour bar a row (the last panel's): the panels share the scale; where their
          // white levels differ (the shift-invariant critics' midpoints) it counts from white
          c.colorbar = i % cols === cols - 1 || i === lanes.length - 1;
          c.relative = !oneCentre;
        }
        vs[i].render(f, c);
        l.rendered = f;
        l.drawnScale = shared;
      });
    }
  } catch (e) {
    console.error("gandyn: render failed", e);
  }
  for (const l of fresh) { l.drawn++; stats.framesRendered++; }
  if (fresh.length && kind === "1d") legend(kind);
  if (fresh.length) meters.drawn.add(performance.now());
  const dt = performance.now() - t0;
  stats.lastRenderMs = dt;
  stats.avgRenderMs = stats.avgRenderMs ? 0.9 * stats.avgRenderMs + 0.1 * dt : dt;
  dirty = false;
  const f = selectedLane()?.latest || first;
  iteration = f.iteration;
  $("iteration").textContent = f.iteration.toLocaleString("en-US");
  // which network moved last, when it was one of them alone (step D / step G / slow motion)
  const part = $("part");
  part.hidden = !(f.part === "d" || f.part === "g");
  // the counter counts full iterations only (docs/protocol.md §2): a D or G update alone
  // leaves it as it is, and the badge says so
  if (!part.hidden) { part.textContent = `${f.part.toUpperCase()} update only: iteration unchanged`; part.className = `part part-${f.part}`; }
}

/** What an image export shows: the one plot of an overlay, else the selected lane's panel. */
function shownView() {
  const kind = currentKind || "2d";
  if (overlayOn(kind)) return panels.view(0, kind === "1d" ? "overlay1d" : "overlayDirac");
  return panels.view(Math.max(0, lanes.indexOf(selectedLane())), kind);
}

const metricSources = () => lanes.map((l) => ({ history: l.history, color: laneColor(l), name: laneName(l), lane: l.id }));

/** Fit the panels (and the preset's charts) into the window when what is shown changed; the
 * fitter refits by itself when the window or a row of the stage changes size. In lecture
 * mode, three panels or more side by side on a screen narrower than SIDE_LOW_BELOW take the
 * stage's whole width, and the side panel moves beside the charts. */
const SIDE_LOW_BELOW = 1500;
let shownPanels = null;   // [kind, panels side by side] of the last draw
function fitStage(kind = shownPanels?.[0], n = shownPanels?.[1]) {
  if (!kind) return;
  shownPanels = [kind, n];
  const low = state.lecture && n >= 3 && window.innerWidth < SIDE_LOW_BELOW;
  const key = `${kind}:${n}:${state.lecture}:${low}`;
  if (key === fitKey) return;
  fitKey = key;
  const side = $("side"), home = low ? $("stage-foot") : $("layout");
  if (side.parentElement !== home) home.append(side);
  document.body.classList.toggle("side-low", low);
  // in a lecture "more charts" sits at the end of the lane bar: no row of its own over the charts
  const more = $("metrics-more"), bar = state.lecture && !state.hide.includes("lanes") ? $("lane-bar") : $("metrics-head");
  if (more.parentElement !== bar) bar.append(more);
  fitter.fit(kind, n, state.lecture);
}

/** The readout beside the counter, four times a second. */
function showRates(now) {
  if (now - lastRates < 250) return;
  lastRates = now;
  const it = meters.it.perSecond(now), fps = meters.drawn.countPerSecond(now), got = meters.received.countPerSecond(now);
  $("rate-it").textContent = formatRate(it, "it/s");
  $("rate-fps").textContent = formatRate(fps, "fps");
  $("rates").title = `${RATES_TITLE} Now: ${formatRate(it, "iterations per second")}; ${formatRate(got, "frames received")} and ${formatRate(fps, "drawn")} per second.`;
  window.gandyn.rates = { it, fps, received: got };
}

function loop() {
  requestAnimationFrame(loop);
  const fresh = !blankCanvas && lanes[0]?.latest && (dirty || lanes.some((l) => l.latest && l.latest !== l.rendered));
  if (fresh) drawLanes();
  const now = performance.now();
  showRates(now);
  const chartsHidden = $("metrics-wrap").classList.contains("url-hidden");  // ?hide=metrics: no drawing
  // while playing, the charts are drawn once a second, a row right after each new frame: the
  // next frame is then furthest away, and fewer frames arrive while a row is being drawn
  // (they would be skipped)
  const rowDrawn = fresh && playing && !!metricsChart?.drawNextRow();
  if (metricsChart && !chartsHidden && !rowDrawn && (fresh || !playing) && now - lastMetricsDraw > (playing ? 1000 : 100)) {
    lastMetricsDraw = now;
    const t1 = performance.now();
    const sources = metricSources();
    if (sources.length && metricsChart.render(sources, { ...ctx(), stagger: playing })) {
      stats.metricsRenders++;
      const dm = performance.now() - t1;
      stats.avgMetricsMs = stats.avgMetricsMs ? 0.8 * stats.avgMetricsMs + 0.2 * dm : dm;
    }
  }
  const cfg = selectedLane()?.config;   // the how-to-read text follows the loss and the view
  if (cfg && currentKind) howToRead.update({ loss: cfg.loss, info: schemaInfo?.losses?.[cfg.loss], kind: currentKind });
}

// ---------------------------------------------------------------- view and pace
function viewCommand() {
  return {
    type: "view",
    field: state.view.field ? FIELD_N : 0,
    manifold: state.view.manifold ? MANIFOLD_N : 0,
    trails: state.view.trails ? TRAILS_K : 0,
    spectrum: state.view.spectrum,
  };
}

/** The spectrum panel (shown while its toggle is on): every lane's newest spectrum. */
function renderSpectrum() {
  $("spectrum-wrap").hidden = !state.view.spectrum;
  if (!state.view.spectrum) return;
  const sources = lanes.map((l) => ({ spectrum: l.spectrum, color: laneColor(l), name: laneName(l), dirac: l.config?.dataset === "dirac" }));
  spectrumView.render(sources, ctx());
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
      if (f === "field" || f === "manifold" || f === "trails" || f === "spectrum") send(viewCommand()).catch(showCommandError);
      if (f === "spectrum") renderSpectrum();
      dirty = true;
      syncUrl();
    });
  }
  $("draw-clear").addEventListener("click", () => startDrawing([]));
  // export
  const menu = $("export-menu");
  $("btn-export").addEventListener("click", (e) => { e.stopPropagation(); menu.hidden = !menu.hidden; });
  document.addEventListener("click", () => { menu.hidden = true; });
  $("export-png").addEventListener("click", () => exportImage(shownView(), "png", state, iteration));
  $("export-svg").addEventListener("click", () => exportImage(shownView(), "svg", state, iteration));
  $("export-csv").addEventListener("click", () => exportMetrics(selectedLane().history, "csv", state));
  $("export-json").addEventListener("click", async () => {
    let replay = null;
    try { replay = (await send({ type: "export" })).replay; } catch { /* offline: metrics only */ }
    exportMetrics(selectedLane().history, "json", state, { lane: selectedLane().id, replay, link: shareUrl() });
  });
  window.gandyn.recorder = wireRecording($("view-wrap"), {
    toggle: $("export-webm"), badge: $("rec-badge"), time: $("rec-time"), fps: $("rec-fps"), stopButton: $("rec-stop"),
    save: (blob) => exportRecording(blob, state, iteration), say: toast,
  });
  $("btn-link").addEventListener("click", copyLink);
  $("metrics-more").addEventListener("click", () => { chartsOpen = !chartsOpen; showCharts(); });
  wireLanes();
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
      // then a redraw: the 2D view's HTML colour bar and notes follow the plot's new size
      const resized = [...panels.all().map((v) => v.div), ...$("metrics").querySelectorAll(".metrics-row")].filter((d) => d && d._fullLayout && !d.hidden).map((d) => Plotly.Plots.resize(d));
      Promise.all(resized).then(() => { dirty = true; }, () => { dirty = true; });
    });
  });
  ro.observe($("view-wrap"));
  // the side panels stick under the top bar, whose height depends on the screen and mode
  const top = new ResizeObserver(() => document.documentElement.style.setProperty("--topbar-h", `${Math.ceil($("topbar").getBoundingClientRect().height)}px`));
  top.observe($("topbar"));
  ro.observe($("metrics-wrap"));
}

let legendHtml = null;
/** The colours of the views; in 1D (the panels draw no legend of their own, view1d.js)
 * also the curves. */
function legend(kind = currentKind, panels = !overlayOn(kind)) {
  // "optimal D" only while a panel draws it (a probability D on a target of known density)
  const optimal = lanes.some((l) => l.latest?.d_optimal?.length && l.latest.display === "probability");
  const curves = kind === "1d" && panels
    ? `<span><b>━</b> D(x)</span>${optimal ? `<span><b style="color:#1f5fbf">╍</b> optimal D</span>` : ""}<span><b style="color:#777">┈</b> undecided</span>` : "";
  const ema = kind !== "dirac" && lanes.some((l) => (l.config?.g_ema || 0) > 0)
    ? `<span><b style="color:#7a1fa2">${kind === "1d" ? "△" : "○"}</b> averaged G (EMA)</span>` : "";
  // real, fake and the arrows have their colours on their layer toggles
  const html = `${ema}${curves}`;
  if (html !== legendHtml) $("legend").innerHTML = legendHtml = html;
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
  else if (e.key === "l") { state.lecture = !state.lecture; document.body.classList.toggle("lecture", state.lecture); dirty = true; metricsChart.render(metricSources(), ctx(), true); renderSpectrum(); syncUrl(); }
}

function toggleHelp(show) { $("help").hidden = !show; if (show) $("help-close").focus(); }

async function togglePlay() {
  if (blankCanvas && !playing) { notice("Draw a point or more on the plot first: the points target needs at least one."); return; }
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
    if (paused && !ack.playing) ghostNext = new Set(lanes.map((l) => l.id));
  } catch (err) { showCommandError(err); }
}

/** Reset: every lane back to iteration 0 with the settings it has now (and the selected
 * lane's changes waiting for a reset), `every` applied to all of them (a new target: the
 * lanes of a session share their kind of data); a fork becomes a lane from the start. */
function resetBody(every = {}) {
  const pending = state.pending || {};
  const target = (l) => merge(merge(l.config, every), l.id === selectedLane()?.id ? pending : {});
  if (lanes.length < 2) {
    const patch = merge(pending, every);
    return Object.keys(patch).length ? { patch } : {};
  }
  const first = target(lanes[0]);
  return {
    config: first,
    lanes: lanes.slice(1).map((l) => ({ patch: diffPatch(first, target(l)), title: l.title })),
  };
}

async function reset() {
  stopDrawing();
  const forks = lanes.filter((l) => l.forked).length;
  if (lanes.length > 1) resetToast = `All ${lanes.length} lanes restarted from iteration 0 with their current settings${forks ? ` (${forks === 1 ? "the fork starts" : "the forks start"} from iteration 0 too)` : ""}.`;
  await sendReset(resetBody());
}

// ---------------------------------------------------------------- lanes
function selectLane(id) {
  if (!laneById(id) || id === selectedId) return;
  selectedId = id;
  state.pending = {};
  state.config = selectedLane().config;
  controls.clearErrors();
  refreshControls();
  updateLanes();
  dirty = true;
}

/** What a lane command's error means on this page. */
function laneError(err) {
  if (err && err.field === "lane" && /most|max/i.test(err.message || "")) {
    const most = schemaInfo?.limits?.max_lanes ?? 4;
    notice(`A session holds at most ${most} lanes: close one (✕ on its chip), or keep only one, first.`);
  } else showCommandError(err);
}

async function laneCommand(cmd, { select = false } = {}) {
  try {
    const ack = await send(cmd);
    version = ack.version;
    if (select && ack.added !== undefined) selectLane(ack.added);
    refreshControls();
    updateLanes();
    laneLinkSoon();
    return ack;
  } catch (err) { laneError(err); return null; }
}

/** A new lane from iteration 0 with the settings panel's values (those of the selected lane
 * and its changes waiting for a reset), as a patch against lane 1's start. */
function addLane(patch = null, title = "") {
  const target = merge(selectedLane().config, state.pending || {});
  const p = patch ?? (startConfig ? diffPatch(startConfig, target) : target);
  if (!patch) delete p.seed;   // every lane shares lane 1's seed
  state.pending = {};
  return laneCommand({ type: "lane_add", patch: p, title }, { select: true });
}

function forkLane(patch = {}, title = "") {
  return laneCommand({ type: "lane_fork", lane: selectedLane().id, patch, reset_moments: !!$("reset-moments")?.checked, title }, { select: true });
}

function updateLanes() {
  if (!controls) return;
  const multi = lanes.length > 1;
  const chips = $("lane-chips");
  chips.replaceChildren(...lanes.map((l, i) => {
    const chip = document.createElement("span");
    chip.className = `lane-chip${l.id === selectedId && multi ? " selected" : ""}`;
    chip.style.setProperty("--lane", laneColor(l));
    const b = document.createElement("button");
    b.className = "lane-pick";
    b.dataset.lane = String(l.id);
    b.setAttribute("aria-pressed", String(l.id === selectedId));
    b.title = multi ? `Edit lane ${i + 1}'s settings` : "The only lane";
    b.innerHTML = `<span class="lane-num">${i + 1}</span><span class="lane-title"></span>`;
    b.querySelector(".lane-title").textContent = laneTitle(l, lanes[0]);
    b.addEventListener("click", () => selectLane(l.id));
    chip.append(b);
    if (multi) {
      const x = Object.assign(document.createElement("button"), { className: "lane-close", textContent: "✕", title: `Close lane ${i + 1}` });
      x.dataset.lane = String(l.id);
      x.addEventListener("click", () => laneCommand({ type: "lane_close", lane: l.id }));
      chip.append(x);
    }
    return chip;
  }));
  const full = lanes.length >= (schemaInfo?.limits?.max_lanes ?? 4);
  for (const id of ["lane-add", "lane-fork"]) {
    $(id).disabled = full;
    $(id).title = full ? "A session holds at most 4 lanes: close one first" : $(id).dataset.title || $(id).title;
  }
  $("lane-keep").hidden = !multi;
  const kind = currentKind;
  $("lane-overlay-box").hidden = !multi || (kind !== "1d" && kind !== "dirac");
  $("lane-overlay").checked = overlayOn(kind);
  // the settings panel edits one lane: say which
  const head = $("controls-lane");
  head.hidden = !multi;
  const sel = selectedLane();
  if (multi && sel) {
    head.style.setProperty("--lane", laneColor(sel));
    head.innerHTML = `<span class="lane-num">${lanePos(sel.id)}</span><span>Settings of lane ${lanePos(sel.id)}<br><b></b></span>`;
    head.querySelector("b").textContent = laneTitle(sel, lanes[0]);
  }
  document.body.classList.toggle("lanes-multi", multi);
  // the metric charts draw one line per lane, in the lanes' colours
  const key = $("metrics-key");
  key.hidden = !multi;
  key.replaceChildren(...(multi ? lanes : []).map((l) => {
    const item = Object.assign(document.createElement("span"), { style: `color:${laneColor(l)}` });
    item.innerHTML = `<span class="lane-num" style="--lane:${laneColor(l)}">${lanePos(l.id)}</span>`;
    item.append(`━ ${laneTitle(l, lanes[0])}`);
    return item;
  }));
  legend(kind, !overlayOn(kind));
  dirty = true;
}

function wireLanes() {
  for (const id of ["lane-add", "lane-fork"]) $(id).dataset.title = $(id).title;
  $("lane-add").addEventListener("click", () => addLane());
  $("lane-fork").addEventListener("click", () => forkLane());
  $("lane-keep").addEventListener("click", () => laneCommand({ type: "lane_keep", lane: selectedLane().id }));
  $("lane-overlay").addEventListener("change", (e) => { overlayChoice = e.target.checked; updateLanes(); });
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

const hasLanes = () => lanes.length > 1 || lanes.some((l) => l.forked);

/** The changes from the preset, for a link (by lane position: ids are the session's own). */
const linkEdits = () => (origin ? edits.toLink(lanePos) : []);

/** The lanes' link: {param, says} (link.js), or null when the server could not export. */
async function lanesLink() {
  let replay;
  try { replay = (await send({ type: "export" })).replay; } catch { return null; }
  if (!replay || !Array.isArray(replay.lanes)) return null;
  const n = replay.lanes.length;
  const limit = schemaInfo?.limits?.max_replay_iterations ?? 20000;
  const exact = linkReplay(replay, limit, new Set(lanes.filter((l) => l.halt).map((l) => l.id)));
  if (exact) {
    const param = await encodeReplay(exact.replay, linkEdits());
    if (shareUrl({ ...state, replayParam: param }).length <= MAX_LINK_CHARS) {
      const says = exact.changes
        ? `it restarts these ${n} lanes from iteration 0 and replays their ${exact.changes} live change${exact.changes > 1 ? "s" : ""} and forks at the iterations they happened, up to iteration ${exact.upTo.toLocaleString("en-US")}; from there the same training follows, bit for bit`
        : `it restarts these ${n} lanes from iteration 0 (with the preset's warm-up); the same training follows, bit for bit`;
      return { param, says };
    }
  }
  const param = await encodeReplay(fromStart(replay, replay.lanes.map((l) => laneById(l.id)?.config || {})), linkEdits());
  const why = exact ? `their changes and forks do not fit in a link of ${MAX_LINK_CHARS.toLocaleString("en-US")} characters` : `replaying them would train more than ${limit.toLocaleString("en-US")} iterations`;
  return { param, says: `it restarts these ${n} lanes from iteration 0 with their current settings; ${why}, so it does not replay them` };
}

/** Keep the address bar's lanes in step (debounced: an export after lane changes). */
let laneLinkTimer = null;
function laneLinkSoon() {
  clearTimeout(laneLinkTimer);
  laneLinkTimer = setTimeout(async () => {
    if (!hasLanes()) { if (state.replayParam) { state.replayParam = null; syncUrl(); } return; }
    const link = await lanesLink();
    if (!link) return;
    state.replayParam = link.param;
    syncUrl();
  }, 400);
}

async function copyLink() {
  let url = shareUrl();
  let keeps = LINK_KEEPS;
  if (hasLanes()) {
    const link = await lanesLink();
    if (link) { state.replayParam = link.param; keeps = link.says; url = shareUrl(); syncUrl(); }
  }
  // your own points make the longest links (at most 7,000 characters for 500: upload.js)
  if (url.length > MAX_LINK_CHARS) keeps += `; it is ${url.length.toLocaleString("en-US")} characters long, over the ${MAX_LINK_CHARS.toLocaleString("en-US")} that every browser and chat tool keeps whole, so it may arrive cut`;
  let ok = false;
  try { await navigator.clipboard.writeText(url); ok = true; } catch { /* fall back below */ }
  if (!ok) {
    const ta = Object.assign(document.createElement("textarea"), { value: url });
    document.body.append(ta); ta.select();
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    ta.remove();
  }
  toast(ok ? `Link copied: ${keeps}.` : `Copy this link (${keeps}): ${url}`);
  window.gandyn.lastLink = url;
  window.gandyn.lastLinkSays = keeps;
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
  const notes = !!originInfo() && !hidden("notes");
  const showGallery = !!gallery && !hidden("gallery");
  $("preset-panel").hidden = !notes;
  $("gallery-slot").hidden = !showGallery;
  $("side").hidden = hidden("side") || (!notes && !showGallery);
  gallery?.setCurrent(state.preset);
  if (notes) showPresetStatus();
}

/** The detail of the preset the run came from (also while it is custom), once loaded. */
const originInfo = () => (origin && presetInfo && presetInfo.name === origin.name ? presetInfo : null);

/** A preset was loaded as it is (a gallery card, the address, a link): what the run is
 * compared with from now on; `base` its config (what the address is a diff against). */
function presetLoaded(name, base) {
  origin = name ? { name, base: clone(base) } : null;
  edits.clear();
  state.preset = name;
  state.base = name ? clone(base) : clone(state.defaults);
}

/** A change of a lane's settings (`patch` on `config`, what the lane had): the preset's panel,
 * the gallery and the address follow (presetEdits.js: "modified" keeps the preset and its
 * note, "custom" drops them). */
function noteEdit(patch, config, lane = 1) {
  if (!origin || !patch || !Object.keys(patch).length) return;
  edits.record(lane, config || {}, patch);
  const custom = edits.status === "custom";
  state.preset = custom ? null : origin.name;
  state.base = custom ? clone(state.defaults) : clone(origin.base);
  syncUrl();
  updateSide();
  updateLanes();
}

/** The panel's head: the preset as loaded, modified (the changes named, the note kept) or
 * custom (the note hidden: it no longer describes what is on screen). */
function showPresetStatus() {
  const info = originInfo(), status = edits.status, title = info.title || info.name;
  $("preset-panel").dataset.status = status;
  $("preset-kicker").textContent = status === "custom" ? "custom run" : status === "modified" ? "preset · modified" : "preset";
  $("preset-title").textContent = status === "custom" ? "Custom settings" : title;
  $("preset-note").hidden = $("preset-try").hidden = status === "custom";
  const box = $("preset-edits");
  box.hidden = status === "preset";
  if (status === "preset") return;
  const changes = edits.describe(lanes.length > 1).join("; ");
  const text = status === "custom"
    ? `Changed from the preset “${title}”: ${changes}. Its note no longer describes what is on screen.`
    : `Changed: ${changes}. The note describes the preset's own settings.`;
  const back = Object.assign(document.createElement("button"), { type: "button", className: "preset-back", textContent: `Back to “${title}”`, title: "Load the preset again, from its start" });
  back.addEventListener("click", () => openPreset(origin.name));
  box.replaceChildren(Object.assign(document.createElement("p"), { textContent: text }), back);
}

/** The charts the preset's note talks about (its `charts`), the others behind "more charts";
 * without a preset, every chart. A custom run keeps its preset's charts. */
function showCharts() {
  const featured = originInfo()?.charts;
  const can = Array.isArray(featured) && typeof metricsChart?.setShown === "function";
  const more = $("metrics-more");
  more.hidden = !can;
  if (can) {
    const others = (metricsModule.CHARTS || []).map((c) => c.title).filter((t) => !featured.includes(t));
    more.textContent = chartsOpen ? "▾ only the preset's charts" : `▸ more charts (${others.length})`;
    more.title = chartsOpen ? `Fold away the charts the preset's note does not talk about` : `Show ${others.join(", ")}`;
    more.setAttribute("aria-expanded", String(chartsOpen));
  }
  metricsChart?.setShown?.(can && !chartsOpen ? featured : null);
  fitter?.soon();
}

async function loadPresetPanel() {
  const name = state.preset;
  if (!name) { presetInfo = null; updateSide(); showCharts(); return; }
  try {
    const r = await fetch(`/api/presets/${encodeURIComponent(name)}`);
    if (!r.ok) { presetInfo = null; updateSide(); return; }
    const info = await r.json();
    if (state.preset !== name) return; // another preset was picked meanwhile
    presetInfo = { name, ...info };
  } catch { presetInfo = null; updateSide(); return; }
  showCharts();
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
    const mode = tryMode(item);
    b.className = "try";
    b.innerHTML = `<span class="try-arrow" aria-hidden="true">▶</span><span class="try-text"><span class="try-label"></span>${mode ? `<span class="try-mode">${mode === "fork" ? "opens a fork of the lane in view, now" : "opens a new lane from the start"}</span>` : ""}</span>`;
    b.querySelector(".try-label").textContent = label;
    b.title = mode === "fork" ? `A new lane: the lane in view as it is now, then ${JSON.stringify(item.patch)}`
      : mode ? `A new lane from iteration 0 with ${JSON.stringify(item.patch)}` : `Open the preset ${item.preset || item.name || item}`;
    b.addEventListener("click", () => {
      if (typeof item === "string") openPreset(item);
      else if (!mode) openPreset(item.preset || item.name);
      else tryLane(item, mode, label, b);
    });
    tryBox.append(b);
  }
  updateSide();
  updateLanes();   // the preset may say its lanes are drawn in one plot
  // a preset's view options the page understands
  const v = presetInfo.view || {};
  let changed = false;
  for (const [k, on] of [["field", v.field > 0], ["manifold", v.manifold > 0], ["trails", v.trails > 0]]) {
    if (k in v && state.view[k] !== on) { state.view[k] = on; $(`opt-${k}`).checked = on; changed = true; }
  }
  const extra = Object.fromEntries(Object.entries(v).filter(([k]) => ["grid", "samples", "line", "dirac_grid"].includes(k)));
  if (changed || Object.keys(extra).length) send({ ...viewCommand(), ...extra }).catch(showCommandError);
}

/** How a "try next" item opens its lane: "start" (a new lane from the preset's start, the
 * default of a patch) or "fork" (the lane in view, now); null for an item that loads a preset. */
function tryMode(item) {
  if (typeof item === "string" || !item.patch) return null;
  const mode = item.lane ?? item.mode;
  return mode === "fork" ? "fork" : "start";
}

/** A "try next" change opens a lane beside the others, never a silent change of the lane in view. */
async function tryLane(item, mode, label, button) {
  const ack = mode === "fork" ? await forkLane(item.patch, label) : await addLane(item.patch, label);
  if (ack) {
    button?.classList.add("tried");
    toast(mode === "fork" ? `New lane ${lanePos(ack.added)}: “${label}”, forked from the lane in view at its iteration.` : `New lane ${lanePos(ack.added)}: “${label}”, from iteration 0 beside the others.`);
  }
}

async function openPreset(name) {
  stopDrawing();
  resetToast = `Preset: ${gallery?.presets.find((p) => p.name === name)?.title || name}`;
  const ack = await sendReset({ preset: name });
  if (ack) {
    presetLoaded(name, ack.config);
    ghostNext = new Set();
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

/** The halt banner: the first halted lane's halt (a lane halts alone; the others go on). */
function refreshHalt() {
  const lane = lanes.find((l) => l.halt);
  if (!lane) { $("halt").hidden = true; return; }
  const h = lane.halt;
  const who = lanes.length > 1 ? `Lane ${laneName(lane)}: ` : "";
  const others = lanes.length > 1 && lanes.some((l) => !l.halt) ? " The other lanes go on." : "";
  $("halt-title").textContent = who + (h.kind === "error"
    ? `Training stopped by an error at iteration ${h.iteration}.`
    : `Training diverged at iteration ${h.iteration}: ${describeQuantity(h.quantity)} blew up.${others}`);
  // the server's sentence, without a first sentence that repeats the title
  const msg = String(h.message || "").replace(/^Training (diverged|stopped|failed)[^.]*\.\s*/i, "");
  $("halt-message").textContent = msg;
  $("halt").hidden = false;
}

function describeQuantity(q) {
  const words = { d_loss: "the discriminator's loss", g_loss: "the generator's loss", grad_g: "the generator's gradient", grad_d: "the discriminator's gradient", param_d: "the discriminator's weights", param_g: "the generator's weights" };
  return words[q] || (q ? `“${q}”` : "a value");
}

// ---------------------------------------------------------------- for tests and the bench
function exposeForTests() {
  window.gandyn = {
    state, stats,
    get history() { return selectedLane()?.history; },
    get latest() { return selectedLane()?.latest ?? null; },
    get lanes() { return lanes; },
    get selected() { return selectedId; },
    selectLane,
    get fit() { return fitter?.state; },            // the stage's fit (layout.js)
    get presetStatus() { return edits.status; },    // "preset", "modified" or "custom"
    get config() { return selectedLane()?.config ?? null; },
    rates: null,                                    // the readout's numbers (showRates)
    get version() { return version; },
    get playing() { return playing; },
    get kind() { return currentKind; },
    get controls() { return controls; },
    get views() { return views; },
    get gallery() { return gallery; },
    get metrics() { return metricsChart; },
    get howToRead() { return howToRead; },
    get presetInfo() { return presetInfo; },
    openPreset: (name) => pickPreset(name),
    render(frame, i = 0) { if (lanes[i]) lanes[i].latest = frame; },
    ready: false,
  };
}

boot().then(() => { window.gandyn.ready = true; }).catch((e) => { console.error(e); });
