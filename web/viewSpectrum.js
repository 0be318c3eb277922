// The spectrum of the game (Mescheder et al. 2017, "The Numerics of GANs"): each lane's
// eigenvalues of the Jacobian of the joint gradient field, from its newest `spectrum` event
// (docs/protocol.md §5, view.spectrum), as points of the complex plane in the lane's colour.

import { sizes, baseLayout, axis, PLOT_CONFIG } from "./theme.js";

export const SPECTRUM_NOTE = "Re λ < 0 (left of the imaginary axis): the flow is attracted along that direction;<br>" +
  "|Im λ| large against |Re λ|: the steps circle.";
// lane 1 filled, the others open: points of lanes that agree stay visible on top of each other
const SYMBOLS = ["circle", "circle-open", "square-open", "diamond-open"];

/** What a lane's points are: "all 131, exact" or "the 8 of largest magnitude of 17,219". */
export function spectrumWhat(s) {
  const p = s.parameters.toLocaleString("en-US");
  return s.exact ? `all ${p}, exact` : `the ${s.eigenvalues.length} of largest magnitude (of ${p})`;
}

export function createViewSpectrum(div) {
  /** sources: [{spectrum (the event or null), color, name, dirac}] in lane order. */
  function render(sources, ctx) {
    const s = sizes(ctx.lecture);
    const shown = sources.filter((src) => src.spectrum);
    let reMin = 0, reMax = 0, imMax = 0;
    for (const { spectrum } of shown) for (const [re, im] of spectrum.eigenvalues) {
      reMin = Math.min(reMin, re); reMax = Math.max(reMax, re); imMax = Math.max(imMax, Math.abs(im));
    }
    const padRe = 0.08 * (reMax - reMin || 1), padIm = 0.12 * (imMax || 1);
    const data = shown.map(({ spectrum, color, name }, i) => ({
      type: "scatter", mode: "markers", name: `${name}: ${spectrumWhat(spectrum)}, iteration ${spectrum.iteration}`,
      x: spectrum.eigenvalues.map((e) => e[0]), y: spectrum.eigenvalues.map((e) => e[1]),
      marker: i === 0
        ? { color, symbol: SYMBOLS[0], size: s.marker + 2, line: { color: "#fff", width: 1 } }
        : { color, symbol: SYMBOLS[i % SYMBOLS.length], size: s.marker + 8, line: { color, width: 2 } },
      hovertemplate: "%{x:.4g} %{y:+.4g}i<extra></extra>",
    }));
    const one = shown.length === 1 ? shown[0].spectrum : null;
    const title = one ? `eigenvalues of the game's Jacobian, ${spectrumWhat(one)}` : "eigenvalues of the game's Jacobian";
    const waiting = sources.every((src) => src.dirac)
      ? "Dirac-GAN: its eigenvalues are in the main view"
      : "waiting for the first spectrum (one every few seconds while the run changes)";
    const layout = {
      ...baseLayout(ctx.lecture),
      showlegend: !one,
      legend: { orientation: "v", x: 0, xanchor: "left", y: 0, yanchor: "bottom", yref: "container", font: { size: s.tick } },
      margin: { l: ctx.lecture ? 80 : 64, r: 20, t: ctx.lecture ? 90 : 70, b: (ctx.lecture ? 70 : 50) + (one ? 0 : shown.length * (s.tick + 10)) },
      xaxis: axis(ctx.lecture, { range: [reMin - padRe, reMax + padRe], zeroline: false, title: { text: "Re λ", font: { size: s.title } } }),
      yaxis: axis(ctx.lecture, { range: [-imMax - padIm, imMax + padIm], zeroline: true, title: { text: "Im λ", font: { size: s.title } } }),
      shapes: [{ type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1, line: { color: "#555", width: 1.5, dash: "dot" } }],
      annotations: [
        { xref: "paper", yref: "paper", x: 0, y: 1, yanchor: "bottom", xanchor: "left", yshift: 6, showarrow: false, align: "left",
          text: `<b>${title}</b><br>${SPECTRUM_NOTE}`, font: { size: s.tick } },
        { xref: "x", yref: "paper", x: 0, y: 0, yanchor: "bottom", xanchor: "left", xshift: 4, showarrow: false, text: "imaginary axis", font: { size: s.tick - 1, color: "#555" } },
        ...(shown.length ? [] : [{ xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, text: waiting, font: { size: s.tick, color: "#555" } }]),
      ],
    };
    Plotly.react(div, data, layout, PLOT_CONFIG);
  }
  return { div, render };
}
