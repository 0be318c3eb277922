// The marks where a lane's config changed, as the metric charts draw them: a short label per
// change ("loss → hinge", "+ r1", "lr_d 2e-4") read from the config_changed event's `changes`
// (never its JSON), the details for the hover, and the placement of the labels in a strip
// above a chart: labels that would touch collapse into one "3 changes" label.

const MAX_LABEL = 28;        // characters of one mark's label
const MAX_HOVER_LINES = 14;  // lines of a collapsed mark's hover text

/** A number as a person writes it: 2e-4, 0.001, 0.5, 1000, 1.5e+4 → 1.5e4. */
export function shortNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) {
    const [m, e] = v.toExponential(1).split("e");
    return `${m.replace(/\.0$/, "")}e${e.replace("+", "")}`;
  }
  return String(+v.toPrecision(3));
}

/** A config value in words: numbers short, lists joined, objects as key=value. */
function shortValue(v) {
  if (v === null || v === undefined) return "none";
  if (typeof v === "number") return shortNumber(v);
  if (typeof v === "boolean") return v ? "on" : "off";
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === "number")) return v.length <= 4 ? v.map(shortNumber).join(",") : `${v.length} values`;
    return `${v.length} ${v.every(Array.isArray) ? "points" : "items"}`;
  }
  return Object.entries(v).map(([k, x]) => `${k}=${shortValue(x)}`).join(" ");
}

/** "opt_d.lr" → "lr_d", "target.separation" → "separation", "loss" → "loss". */
function shortField(field) {
  const parts = String(field).split(".");
  const m = /^opt_([dg])$/.exec(parts[0]);
  if (m && parts.length > 1) return `${parts[1] === "name" ? "opt" : parts.slice(1).join(".")}_${m[1]}`;
  return parts.at(-1);
}

/** The regularizers' change as what was added, removed or re-weighted: ["+ r1", "− gp", "gp 10"]. */
function regularizerChanges(old, now, detailed) {
  const byKind = (list) => new Map((Array.isArray(list) ? list : []).map((r) => [r.kind, r]));
  const a = byKind(old), b = byKind(now);
  const out = [];
  const rest = (r) => Object.entries(r).filter(([k]) => k !== "kind" && k !== "weight");
  for (const [kind, r] of b) {
    const was = a.get(kind);
    const weight = r.weight === null || r.weight === undefined ? "" : ` ${shortNumber(r.weight)}`;
    if (!was) { out.push(detailed ? `+ ${kind}${weight ? ` (weight${weight})` : ""}` : `+ ${kind}`); continue; }
    if (was.weight !== r.weight) out.push(detailed ? `${kind}: weight ${shortValue(was.weight)} → ${shortValue(r.weight)}` : `${kind}${weight || " default"}`);
    for (const [k, v] of rest(r)) if (JSON.stringify(was[k]) !== JSON.stringify(v)) out.push(detailed ? `${kind}: ${k} ${shortValue(was[k])} → ${shortValue(v)}` : `${kind} ${k} ${shortValue(v)}`);
  }
  for (const kind of a.keys()) if (!b.has(kind)) out.push(`− ${kind}`);
  return out;
}

/** One change, short: strings "loss → hinge", numbers "lr_d 2e-4", on/off "+ x" / "− x". */
function shortChange(c) {
  if (c.field === "regularizers") return regularizerChanges(c.old, c.new, false);
  const name = shortField(c.field);
  if (typeof c.new === "boolean") return [`${c.new ? "+" : "−"} ${name}`];
  if (typeof c.new === "string") return [`${name} → ${c.new}`];
  return [`${name} ${shortValue(c.new)}`];
}

const cut = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
/** Text for Plotly's HTML-like labels: a plug-in's name with "<" or "&" stays text. */
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The label of one config_changed event: its first change or two, "and N more" beyond. */
export function changeLabel(changes) {
  const parts = (changes || []).flatMap(shortChange);
  if (!parts.length) return "no change";
  const text = parts.length <= 2 ? parts.join(", ") : `${parts[0]} and ${parts.length - 1} more`;
  return esc(cut(text, MAX_LABEL));
}

/** Every change of one event in words, a line each: "loss: wgan → hinge", "+ r1 (weight 2)". */
export function changeDetails(changes) {
  return (changes || []).flatMap((c) => (c.field === "regularizers"
    ? regularizerChanges(c.old, c.new, true)
    : [`${c.field}: ${shortValue(c.old)} → ${shortValue(c.new)}`])).map(esc);
}

/**
 * Where the labels of marks go in a strip `width` px wide, left to right: each starts at its
 * line (moved left where it would run past the end), and a label that would come within
 * `gap` px of the one before joins it; a group of several reads "N changes".
 * marks: [{iteration, label, details, lane}], toPx(iteration) → px, measure(text) → px.
 * Returns [{marks, text, hover, left, width}], left to right, never overlapping.
 */
export function placeMarks(marks, { toPx, width, measure, gap = 6 }) {
  const groups = [];
  const place = (g) => {
    g.text = g.marks.length === 1 ? g.marks[0].label : `${g.marks.length} changes`;
    g.width = measure(g.text);
    g.left = Math.max(0, Math.min(toPx(g.marks[0].iteration), width - g.width));
  };
  for (const m of [...marks].sort((a, b) => a.iteration - b.iteration)) {
    const g = { marks: [m] };
    place(g);
    groups.push(g);
    while (groups.length > 1) {
      const [a, b] = groups.slice(-2);
      if (b.left >= a.left + a.width + gap) break;
      groups.pop();
      a.marks.push(...b.marks);
      place(a);
    }
  }
  for (const g of groups) g.hover = hoverText(g.marks);
  return groups;
}

function hoverText(marks) {
  const lines = marks.flatMap((m) => {
    const head = `${m.lane ? `${m.lane}, ` : ""}iteration ${m.iteration.toLocaleString("en-US")}`;
    const details = m.details && m.details.length ? m.details : [m.label];
    return marks.length === 1 ? [head, ...details] : [`${head}: ${details.join("; ")}`];
  });
  const shown = lines.slice(0, MAX_HOVER_LINES);
  if (lines.length > shown.length) shown.push(`… and ${lines.length - shown.length} more`);
  return shown.join("<br>");
}
