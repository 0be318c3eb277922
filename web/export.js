// Export: the current view as PNG or SVG (Plotly.downloadImage), the metrics history as
// CSV or JSON, a recording of the plots as WebM (record.js) (a Blob and a download link).

function stamp(state) {
  const c = state.config || {};
  const parts = ["gandyn", c.dataset, c.loss, ...(c.regularizers || []).map((r) => r.kind)].filter(Boolean);
  return parts.join("-").replace(/[^a-z0-9_.-]+/gi, "_");
}

/** `view` is a view object (its exportFigure() adds what is HTML on the page) or a plot div. */
export function exportImage(view, format, state, iteration) {
  const div = view.div || view;
  const figure = view.exportFigure ? view.exportFigure() : null;
  const scale = format === "png" ? 2 : 1;
  return Plotly.downloadImage(figure || div, {
    format,
    filename: `${stamp(state)}-it${iteration ?? 0}`,
    width: div.clientWidth || 1200,
    height: div.clientHeight || 700,
    scale,
  });
}

export function downloadText(text, filename, mime) {
  downloadBlob(new Blob([text], { type: mime }), filename);
}

function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

export function exportMetrics(history, format, state, extra = {}) {
  const name = `${stamp(state)}-metrics`;
  if (format === "csv") downloadText(history.toCSV(), `${name}.csv`, "text/csv");
  else downloadText(history.toJSON({ config: state.config, ...extra }), `${name}.json`, "application/json");
}

export function exportRecording(blob, state, iteration) {
  downloadBlob(blob, `${stamp(state)}-to-it${iteration ?? 0}.webm`);
}
