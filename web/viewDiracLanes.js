// Dirac-GAN lanes in one (θ, ψ) plane (Mescheder et al. 2018, figure 1 with several training
// methods, live): each lane's trajectory, start and current point in the lane's colour, the
// equilibrium, the field of the selected lane (faint: each method has its own), after a step
// while paused each lane's point before it (hollow), and beside the plane each lane's
// eigenvalues: the flow's at (0, 0) and the one-step map's.

import { C, sizes, baseLayout, axis, PLOT_CONFIG } from "./theme.js";
import { fieldArrows, eigenText } from "./viewDirac.js";
import { createRedraw } from "./redraw.js";

// the one-step verdict in a word (the panel of one lane says it in full)
const STEP_WORD = { "the steps spiral out": "spirals out", "the steps spiral in": "spirals in", "neither in nor out": "circles" };

export function createViewDiracLanes(div) {
  const redraw = createRedraw(div);
  /** items: [{frame, color, name, selected}] in lane order. */
  function render(items, ctx) {
    const s = sizes(ctx.lecture);
    const first = items[0]?.frame;
    if (!first) return;
    const [dlo, dhi] = first.dirac_extent || first.extent || [-2, 2];
    const sel = items.find((i) => i.selected) || items[0];
    const arrows = fieldArrows(sel.frame);
    const data = [
      { type: "scatter", mode: "lines", name: "field", showlegend: false, x: arrows.x, y: arrows.y, hoverinfo: "skip", line: { color: "rgba(60,60,70,0.32)", width: s.fieldLine } },
      { type: "scatter", mode: "markers", name: "equilibrium", showlegend: false, x: [0], y: [0], hoverinfo: "skip", marker: { symbol: "star", size: s.marker + 12, color: C.real, line: { color: "#fff", width: 1.5 } } },
    ];
    const lines = [];
    for (const { frame: f, color, name } of items) {
      const tr = f.trajectory || [];
      const tx = [], ty = [];
      for (let i = 0; i < tr.length; i += 2) { tx.push(tr[i]); ty.push(tr[i + 1]); }
      if (Number.isFinite(f.theta)) { tx.push(f.theta); ty.push(f.psi); }
      data.push({ type: "scatter", mode: "lines", name, x: tx, y: ty, hoverinfo: "skip", line: { color, width: s.line * 0.8 }, meta: { lane: f.lane ?? null } });
      data.push({ type: "scatter", mode: "markers", name: `${name} now`, showlegend: false, x: [f.theta], y: [f.psi], hovertemplate: `${name}<br>θ = %{x:.4g}, ψ = %{y:.4g}<extra></extra>`, marker: { size: s.marker + 8, color, line: { color: "#fff", width: 2 } } });
      // after a step while paused: where the lane's (θ, ψ) was, hollow
      const g = f.ghost && Number.isFinite(f.ghost.theta) && Number.isFinite(f.ghost.psi) ? f.ghost : null;
      if (g) data.push({ type: "scatter", mode: "markers", name: `${name} before the step`, showlegend: false, x: [g.theta], y: [g.psi], hoverinfo: "skip", marker: { size: s.marker + 8, color: "rgba(255,255,255,0.5)", line: { color, width: 2.5 } } });
      const e = eigenText(f);
      const step = Number.isFinite(e.maxMod) ? `<br>step: max |λ| = ${e.maxMod.toFixed(3)}, <i>${STEP_WORD[e.stepVerdict] || e.stepVerdict}</i>` : "";
      lines.push(`<span style="color:${color}"><b>━ ${name}</b></span><br>flow λ = ${e.evText}${step}`);
    }
    data.push({ type: "scatter", mode: "markers", name: "start", showlegend: false, x: data[2]?.x.slice(0, 1) || [], y: data[2]?.y.slice(0, 1) || [], hoverinfo: "skip", marker: { symbol: "circle-open", size: s.marker + 6, color: C.ink, line: { width: 2.5, color: C.ink } } });
    const layout = {
      ...baseLayout(ctx.lecture),
      margin: { l: ctx.lecture ? 80 : 60, r: 20, t: 20, b: ctx.lecture ? 60 : 48 },
      xaxis: axis(ctx.lecture, { domain: [0, 0.5], range: [dlo, dhi], constrain: "domain", title: { text: "θ (generator)", font: { size: s.title } }, zeroline: true, zerolinecolor: "#bbb" }),
      yaxis: axis(ctx.lecture, { range: [dlo, dhi], scaleanchor: "x", scaleratio: 1, constrain: "domain", title: { text: "ψ (discriminator)", font: { size: s.title } }, zeroline: true, zerolinecolor: "#bbb" }),
      annotations: [{
        xref: "paper", yref: "paper", x: 0.54, y: 1, xanchor: "left", yanchor: "top", showarrow: false, align: "left",
        text: `<span style="color:#555">arrows: lane ${sel.name.split(" ")[0]}'s field (each has its own)</span><br><br>${lines.join("<br><br>")}`,
        font: { size: s.tick },
      }],
      datarevision: items.map((i) => i.frame.seq).join(","),
    };
    return redraw.draw(data, layout, PLOT_CONFIG);
  }

  return { div, render, redraw, resetScale() {}, overlay: true };
}
