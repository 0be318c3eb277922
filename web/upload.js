// Your own data as the target: a CSV or JSON file of 2D points (the `points` target,
// target.points) or 1D values (`points1d`, target.values), read in the browser and checked
// against the schema's bounds before anything is sent, with an error that names the line.
//
// CSV (or plain text): one point a line, "x,y" (2D) or "x" (1D); a comma, semicolon, tab or
// spaces between the numbers; blank lines and lines starting with # are skipped; the first
// line may be a header ("x,y"). JSON: [[x, y], ...], [x, ...], or {"points": [[x, y], ...]} /
// {"values": [x, ...]}. Coordinates are kept to 3 decimals, the precision of the address
// (state.js writes pts= so), so that a link rebuilds exactly the uploaded target.

export const MAX_FILE_BYTES = 1 << 20;   // a file is read only up to 1 MiB (500 points take ~15 kB)
const DECIMALS = 3;

/** The bounds the schema sets on the own-data fields: {maxPoints, lo, hi}. */
export function uploadLimits(configSchema) {
  const defs = configSchema.$defs || configSchema.definitions || {};
  const target = defs.TargetConfig?.properties || {};
  const item = target.values?.items || {};
  return { maxPoints: target.points?.maxItems ?? 500, lo: item.minimum ?? -10, hi: item.maximum ?? 10 };
}

class UploadError extends Error {}

const round = (v) => +v.toFixed(DECIMALS);
const shown = (s) => (s.length > 30 ? `${s.slice(0, 29)}…` : s);
const WORDS = { 1: "one number", 2: "two numbers separated by a comma" };

/** One coordinate: a finite number within [lo, hi], or an UploadError naming `where`. */
function coordinate(raw, where, { lo, hi }) {
  const v = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  if (!Number.isFinite(v)) throw new UploadError(`${where}: ${JSON.stringify(raw)} is not a number`);
  if (v < lo || v > hi) throw new UploadError(`${where}: ${v} is outside [${lo}, ${hi}], the range of a coordinate; scale your data into it first`);
  return round(v);
}

/** Lines of text into {dim, data}: data is [[x, y], ...] (dim 2) or [x, ...] (dim 1). */
function parseCsv(text, limits) {
  const split = (line) => line.split(/\s*[,;\t]\s*|\s+/).filter((c) => c !== "");
  let lines = text.split(/\r\n|\r|\n/).map((line, i) => ({ no: i + 1, line: line.trim() }))
    .filter(({ line }) => line && !line.startsWith("#"));
  let dim = 0;
  const head = lines.length ? split(lines[0].line) : [];
  if (head.length <= 2 && head.every((c) => /^[A-Za-z_"' ]+$/.test(c))) {
    dim = head.length;   // a header ("x,y", "value"): it says how many columns follow
    lines = lines.slice(1);
  }
  if (lines.length > limits.maxPoints) throw tooMany(lines.length, dim || split(lines[0].line).length, limits);
  const data = lines.map(({ no, line }) => {
    const cells = split(line);
    dim ||= cells.length === 1 ? 1 : 2;
    if (cells.length !== dim || !cells.every((c) => Number.isFinite(Number(c)))) {
      throw new UploadError(`line ${no}: expected ${WORDS[dim]}, got '${shown(line)}'`);
    }
    const xs = cells.map((c) => coordinate(c, `line ${no}`, limits));
    return dim === 2 ? xs : xs[0];
  });
  return { dim, data };
}

/** A parsed JSON value into {dim, data}. */
function parseJson(text, limits) {
  let value;
  try { value = JSON.parse(text); } catch (e) {
    const at = /position (\d+)/.exec(e.message);
    const line = at ? text.slice(0, +at[1]).split("\n").length : null;
    const why = e.message.split(/, "|\. /)[0];   // V8: 'Unexpected token ',', "[[1,2],,]" is not valid JSON'
    throw new UploadError(`${line ? `line ${line}: ` : ""}not valid JSON: ${why}`);
  }
  if (value && !Array.isArray(value) && typeof value === "object") value = value.points ?? value.values;
  if (!Array.isArray(value)) throw new UploadError('expected a JSON list of points [[x, y], ...] or values [x, ...], or {"points": [...]}');
  if (value.length > limits.maxPoints) throw tooMany(value.length, Array.isArray(value[0]) ? 2 : 1, limits);
  const dim = Array.isArray(value[0]) ? 2 : 1;
  const data = value.map((item, i) => {
    const where = `item ${i + 1}`;
    if (dim === 1) {
      if (Array.isArray(item)) throw new UploadError(`${where}: expected a number like the first item, got ${shown(JSON.stringify(item))}`);
      return coordinate(item, where, limits);
    }
    if (!Array.isArray(item) || item.length !== 2) throw new UploadError(`${where}: expected [x, y], got ${shown(JSON.stringify(item))}`);
    return item.map((c) => coordinate(c, where, limits));
  });
  return { dim, data };
}

function tooMany(n, dim, limits) {
  const field = dim === 2 ? "target.points" : "target.values";
  return new UploadError(`the file has ${n} ${dim === 2 ? "points" : "values"}; a run holds at most ${limits.maxPoints} (${field}): keep a sample of them`);
}

/**
 * A file's text into the config patch that makes it the target:
 * {dataset: "points", target: {points}} or {dataset: "points1d", target: {values}}, and the count.
 * Throws an Error whose message says which line (or item) is wrong and how.
 */
export function parseData(text, name, limits) {
  const json = /\.json$/i.test(name) || /^\s*[[{]/.test(text);
  const { dim, data } = json ? parseJson(text, limits) : parseCsv(text, limits);
  if (!data.length) throw new UploadError("the file holds no numbers: one point a line as x,y (or one value a line)");
  const patch = dim === 2 ? { dataset: "points", target: { points: data } } : { dataset: "points1d", target: { values: data } };
  return { patch, count: data.length, dim };
}

/** Read a File (an <input type=file> pick) and parse it; rejects with the reason. */
export async function readDataFile(file, limits) {
  if (file.size > MAX_FILE_BYTES) throw new UploadError(`${file.name} is ${(file.size / 1048576).toFixed(1)} MiB; at most 1 MiB is read (${limits.maxPoints} points take about 15 kB)`);
  return parseData(await file.text(), file.name, limits);
}
